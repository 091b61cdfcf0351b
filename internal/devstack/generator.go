package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Generator appends lines to a file, a batch every Interval, and rotates the file by rename
// (access.log → access.log.1, replacing the older one) once it exceeds MaxBytes, as
// logrotate's default does. It exists so the demo has logs to ship, rotation included; Line
// says which: NginxLine, AppLine or SyslogLine.
type Generator struct {
	Path     string        // the file written; created if missing, appended to otherwise
	Line     LineFunc      // the lines written; nil means NginxLine
	Rate     int           // lines per second
	Interval time.Duration // time between batches
	MaxBytes int64         // rotate beyond this size
	lines    atomic.Int64
}

// LineFunc returns the n-th line of a run, newline included, written at now; run tells
// this run's lines from earlier runs'.
type LineFunc func(now time.Time, run string, n int64) string

// Lines returns how many lines Run has written. It is safe for concurrent use.
func (g *Generator) Lines() int64 { return g.lines.Load() }

// Run writes lines until ctx is done; it returns nil then, or the first write error. Every
// line is written whole, newline included, in one write per batch.
func (g *Generator) Run(ctx context.Context) error {
	f, size, err := g.open()
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	line := g.Line
	if line == nil {
		line = NginxLine
	}
	perBatch := max(1, int(int64(g.Rate)*int64(g.Interval)/int64(time.Second)))
	tick := time.NewTicker(g.Interval)
	defer tick.Stop()
	run := strconv.FormatInt(time.Now().Unix(), 36) // tells this run's lines from earlier runs'
	var b strings.Builder
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			b.Reset()
			n := g.lines.Load()
			for i := range perBatch {
				b.WriteString(line(now, run, n+int64(i)))
			}
			w, err := f.WriteString(b.String())
			if err != nil {
				return fmt.Errorf("demo generator: write %s: %w", g.Path, err)
			}
			g.lines.Add(int64(perBatch))
			if size += int64(w); size > g.MaxBytes {
				if f, size, err = g.rotate(f); err != nil {
					return err
				}
			}
		}
	}
}

func (g *Generator) open() (*os.File, int64, error) {
	if err := os.MkdirAll(filepath.Dir(g.Path), 0o755); err != nil {
		return nil, 0, fmt.Errorf("demo generator: %w", err)
	}
	f, err := os.OpenFile(g.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("demo generator: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("demo generator: %w", err)
	}
	return f, st.Size(), nil
}

// rotate closes f, renames the file to Path+".1" and opens a new one.
func (g *Generator) rotate(f *os.File) (*os.File, int64, error) {
	f.Close()
	if err := os.Rename(g.Path, g.Path+".1"); err != nil {
		return nil, 0, fmt.Errorf("demo generator: rotate %s: %w", g.Path, err)
	}
	return g.open()
}

var (
	demoPaths    = []string{"/", "/products", "/products/42", "/cart", "/checkout", "/api/v1/items?page=2", "/static/app.js", "/login"}
	demoStatuses = []int{200, 200, 200, 200, 304, 200, 404, 200, 500, 302}
	demoAgents   = []string{"Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"}
)

// NginxLine is the n-th demo line of a run in nginx's combined format, with a request id so
// each line is distinct.
func NginxLine(now time.Time, run string, n int64) string {
	method := "GET"
	if n%7 == 3 {
		method = "POST"
	}
	return fmt.Sprintf("10.0.%d.%d - - [%s] \"%s %s HTTP/1.1\" %d %d \"-\" \"%s\" req=%s-%d\n",
		n%4, n%250+1, now.UTC().Format("02/Jan/2006:15:04:05 -0700"), method,
		demoPaths[n%int64(len(demoPaths))], demoStatuses[n%int64(len(demoStatuses))],
		200+n%5000, demoAgents[n%int64(len(demoAgents))], run, n)
}

var (
	appLoggers  = []string{"checkout", "cart", "auth", "catalog"}
	appMessages = []string{"order placed", "item added", "login ok", "cache miss", "payment declined", "slow query"}
	appLevels   = []string{"info", "info", "debug", "info", "error", "warn"} // by message
)

// AppLine is the n-th line of a JSON application log: one object per line with time, level,
// logger, msg, a request id that makes it distinct, duration_ms and user_id.
func AppLine(now time.Time, run string, n int64) string {
	i := n % int64(len(appMessages))
	return fmt.Sprintf(`{"time":%q,"level":%q,"logger":%q,"msg":%q,"request_id":"%s-%d","duration_ms":%d,"user_id":%d}`+"\n",
		now.UTC().Format("2006-01-02T15:04:05.000Z07:00"), appLevels[i], appLoggers[n%int64(len(appLoggers))],
		appMessages[i], run, n, 3+n*37%900, 1000+n%97)
}

var syslogMessages = []string{
	"sshd[%[1]d]: Accepted publickey for deploy from 10.0.1.%[2]d port 52144 ssh2 id=%[3]s",
	"CRON[%[1]d]: (root) CMD (run-parts /etc/cron.hourly) id=%[3]s",
	"sshd[%[1]d]: Invalid user admin from 203.0.113.%[2]d port 40022 id=%[3]s",
	"systemd[1]: Started Daily apt download activities. id=%[3]s",
	"kernel: [UFW BLOCK] IN=eth0 SRC=198.51.100.%[2]d DST=10.0.0.5 PROTO=TCP DPT=23 id=%[3]s",
}

// SyslogLine is the n-th line of a syslog file as rsyslog writes it (RFC 3164 without PRI:
// "Dec  7 10:00:00 host sshd[123]: ..."), with an id that makes it distinct.
func SyslogLine(now time.Time, run string, n int64) string {
	msg := fmt.Sprintf(syslogMessages[n%int64(len(syslogMessages))], 1000+n%3000, n%250+1, fmt.Sprintf("%s-%d", run, n))
	return now.UTC().Format(time.Stamp) + " demo-host " + msg + "\n"
}
