package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ev is one go test -json line.
func ev(action, pkg, test, output string) string {
	return `{"Action":"` + action + `","Package":"` + pkg + `","Test":"` + test + `","Output":` + quote(output) + "}\n"
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func TestReport(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // lines or fragments the output has, in order
		notWant []string
	}{
		{
			name: "passes print only the ok line",
			in: ev("run", "p", "TestA", "") + ev("output", "p", "TestA", "=== RUN   TestA\n") +
				ev("output", "p", "TestA", "    a_test.go:3: chatter\n") + ev("pass", "p", "TestA", "") +
				ev("output", "p", "", "PASS\n") + ev("output", "p", "", "ok  \tp\t0.1s\n") + ev("pass", "p", "", ""),
			want:    []string{"ok  \tp\t0.1s\n", "\ntests: 1 passed, 0 failed, 0 skipped\n"},
			notWant: []string{"chatter", "PASS\n", "skipped tests"},
		},
		{
			name: "a skip is listed with its reason, continuation lines joined",
			in: ev("run", "p", "TestS", "") + ev("output", "p", "TestS", "    s_test.go:9: before\n") +
				ev("output", "p", "TestS", "    s_test.go:10: promtool: not found\n") +
				ev("output", "p", "TestS", "        (apt-get install prometheus)\n") +
				ev("output", "p", "TestS", "--- SKIP: TestS (0.00s)\n") + ev("skip", "p", "TestS", "") +
				ev("run", "p", "TestT", "") + ev("skip", "p", "TestT", "") + ev("pass", "p", "", ""),
			want: []string{"skipped tests (2):\n", "  p TestS: promtool: not found (apt-get install prometheus)\n",
				"  p TestT: no reason given\n", "tests: 0 passed, 0 failed, 2 skipped\n"},
			notWant: []string{"before"},
		},
		{
			name: "a failed test's output is printed without the === lines",
			in: ev("run", "p", "TestF", "") + ev("output", "p", "TestF", "=== RUN   TestF\n") +
				ev("output", "p", "TestF", "    f_test.go:5: boom\n") + ev("output", "p", "TestF", "--- FAIL: TestF (0.00s)\n") +
				ev("fail", "p", "TestF", "") + ev("output", "p", "", "FAIL\n") + ev("output", "p", "", "FAIL\tp\t0.2s\n") +
				ev("fail", "p", "", ""),
			want: []string{"    f_test.go:5: boom\n--- FAIL: TestF (0.00s)\n", "FAIL\nFAIL\tp\t0.2s\n", "failed tests (1):\n  p TestF\n",
				"tests: 0 passed, 1 failed, 0 skipped\n"},
			notWant: []string{"=== RUN"},
		},
		{
			name: "tests cut short by a timeout fail, parent first, with their output",
			in: ev("run", "p", "TestH", "") + ev("run", "p", "TestH/in", "") +
				ev("output", "p", "TestH/in", "panic: test timed out after 2s\n") +
				ev("output", "p", "", "FAIL\tp\t2.0s\n") + ev("fail", "p", "", ""),
			want: []string{"panic: test timed out after 2s\n", "FAIL\tp\t2.0s\n", "  p TestH\n  p TestH/in\n",
				"tests: 0 passed, 2 failed, 0 skipped\n"},
		},
		{
			name: "a package failing outside its tests counts once",
			in: `{"ImportPath":"q [q.test]","Action":"build-output","Output":"q/q.go:1:23: undefined: y\n"}` + "\n" +
				`{"ImportPath":"q [q.test]","Action":"build-fail"}` + "\n" +
				ev("output", "q", "", "FAIL\tq [build failed]\n") +
				`{"Action":"fail","Package":"q","FailedBuild":"q [q.test]"}` + "\n" +
				ev("run", "r", "TestOK", "") + ev("pass", "r", "TestOK", "") +
				ev("output", "r", "", "goleak: found unexpected goroutines\n") + ev("fail", "r", "", ""),
			want: []string{"q/q.go:1:23: undefined: y\n", "FAIL\tq [build failed]\n", "goleak: found unexpected goroutines\n",
				"  q (build failed)\n  r (package)\n", "tests: 1 passed, 2 failed, 0 skipped\n"},
		},
		{
			name: "lines that are not events pass through; a cut stream fails what was running",
			in:   "go: downloading example.com/m v1.0.0\n" + ev("run", "p", "TestX", "") + ev("output", "p", "TestX", "    x.go:1: last words\n"),
			want: []string{"go: downloading example.com/m v1.0.0\n", "last words", "tests: 0 passed, 1 failed, 0 skipped\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run(strings.NewReader(tc.in), &out))
			got := out.String()
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				require.GreaterOrEqual(t, i, 0, "want %q in order in:\n%s", w, got)
				rest = rest[i+len(w):]
			}
			for _, nw := range tc.notWant {
				require.NotContains(t, got, nw)
			}
			require.True(t, strings.HasSuffix(got, "skipped\n"), "the closing line is last:\n%s", got)
		})
	}
}

// TestReportOfRealGoTest runs go test -json on testdata/sample, whose tests pass, fail and
// skip, and reads its real output: the counts, the skip reason and the failure's message.
func TestReportOfRealGoTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a test binary")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "test", "-count=1", "-json", ".")
	cmd.Dir = filepath.Join("testdata", "sample")
	cmd.Env = append(cmd.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local")
	raw, err := cmd.Output()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the sample has a failing test: go test must exit non-zero")

	var out bytes.Buffer
	require.NoError(t, run(bytes.NewReader(raw), &out))
	got := out.String()
	require.Contains(t, got, "the failure's message")
	require.Contains(t, got, "  sample TestSkip: no server here\n")
	require.Contains(t, got, "failed tests (2):\n  sample TestFail/sub\n  sample TestFail\n")
	require.NotContains(t, got, "not shown")
	require.True(t, strings.HasSuffix(got, "\ntests: 2 passed, 2 failed, 1 skipped\n"), got)
}
