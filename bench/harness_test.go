//go:build bench

package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Sizes and places that every harness takes from the environment, so that
// `make bench-smoke` can run them all small (see README.md).

// envInt is the positive integer in $name, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// envDuration is the duration in $name (such as 10s), or def.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("%s=%q: want a duration such as 10s", name, v)
	}
	return d
}

// resultsDir is where the harnesses write their results: results/ (the
// committed ones), or $BENCH_RESULTS_DIR. A run that writes elsewhere leaves
// BENCHMARKS.md alone.
func resultsDir() string {
	if d := os.Getenv("BENCH_RESULTS_DIR"); d != "" {
		return d
	}
	return "results"
}

// committedResults reports whether this run writes the committed results
// (and so the TestPeers part of BENCHMARKS.md).
func committedResults() bool { return resultsDir() == "results" }

// resultPath is the path of the results file name.
func resultPath(name string) string { return filepath.Join(resultsDir(), name) }

// writeResult writes a results file and logs where.
func writeResult(t *testing.T, name string, data []byte) {
	t.Helper()
	path := resultPath(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
