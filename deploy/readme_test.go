package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeDeploymentPaths checks that every deploy/ file the README's
// Deployment section names exists, so the instructions cannot drift from
// the files.
func TestReadmeDeploymentPaths(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	readme := string(data)
	start := strings.Index(readme, "\n## Deployment\n")
	require.GreaterOrEqual(t, start, 0, "README has no Deployment section")
	section := readme[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	paths := regexp.MustCompile(`deploy/[A-Za-z0-9_./-]*[A-Za-z0-9_]`).FindAllString(section, -1)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		_, err := os.Stat(filepath.Join("..", p))
		require.NoErrorf(t, err, "README Deployment names %s", p)
	}
}
