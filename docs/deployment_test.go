package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeploymentPaths: every deploy/ file that deployment.md names exists, so the
// instructions cannot drift from the files.
func TestDeploymentPaths(t *testing.T) {
	page, err := Files.ReadFile("deployment.md")
	require.NoError(t, err)
	paths := regexp.MustCompile(`deploy/[A-Za-z0-9_./-]*[A-Za-z0-9_]`).FindAllString(string(page), -1)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		_, err := os.Stat(filepath.Join("..", p))
		require.NoErrorf(t, err, "deployment.md names %s", p)
	}
}
