package testenv

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// BuildBinaries builds the daemons of ./cmd/<name> into a temp dir, as `make build` does,
// and returns their paths by name. The build cache makes it quick after the first run.
func BuildBinaries(t testing.TB, names ...string) map[string]string {
	t.Helper()
	skipShort(t, "builds the binaries")
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate the module root")
	}
	root := filepath.Join(filepath.Dir(self), "..", "..")
	dir := t.TempDir()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./cmd/"+n)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = root
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %s", strings.Join(names, ", "), time.Since(start).Round(time.Millisecond))
	bins := make(map[string]string, len(names))
	for _, n := range names {
		bins[n] = filepath.Join(dir, n)
	}
	return bins
}
