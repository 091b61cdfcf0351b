package deploy

import (
	"os"
	"os/exec"
	"testing"
)

// requireTool returns the path of an external tool a test runs. When it is
// missing the test is skipped locally and fails under CI=true, where .ci/run
// installs it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", name, err)
	}
	t.Skipf("%s not installed: %v", name, err)
	return ""
}
