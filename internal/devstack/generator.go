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

// Generator appends nginx-style access lines to a file, a batch every Interval, and rotates
// the file by rename (access.log → access.log.1, replacing the older one) once it exceeds
// MaxBytes, as logrotate's default does. It exists so the demo has logs to ship, rotation
// included.
type Generator struct {
	Path     string        // the file written; created if missing, appended to otherwise
	Rate     int           // lines per second
	Interval time.Duration // time between batches
	MaxBytes int64         // rotate beyond this size
	lines    atomic.Int64
}

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
				b.WriteString(nginxLine(now, run, n+int64(i)))
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

// nginxLine is the n-th demo line of a run in nginx's combined format, with a request id so
// each line is distinct.
func nginxLine(now time.Time, run string, n int64) string {
	method := "GET"
	if n%7 == 3 {
		method = "POST"
	}
	return fmt.Sprintf("10.0.%d.%d - - [%s] \"%s %s HTTP/1.1\" %d %d \"-\" \"%s\" req=%s-%d\n",
		n%4, n%250+1, now.UTC().Format("02/Jan/2006:15:04:05 -0700"), method,
		demoPaths[n%int64(len(demoPaths))], demoStatuses[n%int64(len(demoStatuses))],
		200+n%5000, demoAgents[n%int64(len(demoAgents))], run, n)
}
