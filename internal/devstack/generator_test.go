package devstack

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// nginxRE is nginx's combined format plus the request id.
var nginxRE = regexp.MustCompile(`^10\.0\.\d+\.\d+ - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "(GET|POST) \S+ HTTP/1\.1" \d{3} \d+ "-" "[^"]+" req=\w+-(\d+)$`)

// The generator writes whole nginx lines, rotates by rename beyond MaxBytes (keeping one
// rotated file), appends to an existing file, and stops on cancel.
func TestGenerator(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	require.NoError(t, os.WriteFile(path, []byte("earlier line\n"), 0o644))
	g := &Generator{Path: path, Rate: 2000, Interval: 10 * time.Millisecond, MaxBytes: 8 << 10}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	require.Eventually(t, func() bool { return g.Lines() >= 400 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	rotated, err := os.ReadFile(path + ".1")
	require.NoError(t, err, "no rotation")
	current, err := os.ReadFile(path)
	require.NoError(t, err)
	require.LessOrEqual(t, len(current), 8<<10+20*200, "not rotated beyond MaxBytes")
	require.NotContains(t, string(current), "earlier line", "the first file should have been rotated away")
	var lines []string
	for _, b := range [][]byte{rotated, current} {
		if len(b) == 0 {
			continue // just rotated
		}
		require.True(t, strings.HasSuffix(string(b), "\n"), "a partial line")
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			require.Regexp(t, nginxRE, line)
			lines = append(lines, line)
		}
	}
	n, err := strconv.ParseInt(nginxRE.FindStringSubmatch(lines[len(lines)-1])[2], 10, 64)
	require.NoError(t, err)
	require.Equal(t, g.Lines()-1, n, "the last line's number is the count")
}

func TestCheckMode(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, checkMode(dir, true))
	require.NoError(t, checkMode(dir, true))
	require.ErrorContains(t, checkMode(dir, false), "holds the state of a stack on kfake, not kafka")
}

// The app log is one JSON object per line with the fields its pipeline reads; the syslog
// lines are RFC 3164 as rsyslog writes them, each distinct.
func TestLineFuncs(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 123e6, time.UTC)
	seen := map[string]bool{}
	for n := range int64(50) {
		app := AppLine(now, "run", n)
		require.True(t, strings.HasSuffix(app, "\n"))
		var obj map[string]any
		require.NoError(t, json.Unmarshal([]byte(app), &obj), app)
		require.Equal(t, "2026-12-07T10:00:00.123Z", obj["time"])
		for _, k := range []string{"level", "logger", "msg", "request_id"} {
			require.NotEmpty(t, obj[k], "%s in %s", k, app)
		}
		require.IsType(t, float64(0), obj["duration_ms"])

		line := SyslogLine(now, "run", n)
		require.Regexp(t, `^Dec  7 10:00:00 demo-host [a-zA-Z]+(\[\d+\])?: .+ id=run-\d+\n$`, line)
		require.False(t, seen[app] || seen[line], "a line twice")
		seen[app], seen[line] = true, true
	}
}

// A Generator writes the lines of its Line function.
func TestGeneratorLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syslog")
	g := &Generator{Path: path, Line: SyslogLine, Rate: 100, Interval: 10 * time.Millisecond, MaxBytes: 1 << 20}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	require.Eventually(t, func() bool { return g.Lines() >= 3 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, int(g.Lines()), strings.Count(string(b), "\n"))
	require.Contains(t, string(b), " demo-host ")
}
