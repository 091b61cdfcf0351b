package docs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBinaryREADMEs: every binary of cmd/ has a README.md with the sections of Telegraf's
// per-plugin convention, so that what a binary does, how it is configured, what it exports
// and what it prints is found next to its code.
func TestBinaryREADMEs(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("..", "cmd"))
	require.NoError(t, err)
	var n int
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		path := filepath.Join("..", "cmd", e.Name(), "README.md")
		b, err := os.ReadFile(path)
		if !assert(t, err == nil, "cmd/%s: no README.md", e.Name()) {
			continue
		}
		titles := map[string]bool{}
		for _, s := range ParseSections(string(b)) {
			titles[s.Title] = s.Level <= 2
			if s.Level == 1 {
				assert(t, s.Title == e.Name(), "cmd/%s/README.md: the title is %q, not the binary's name", e.Name(), s.Title)
			}
		}
		for _, want := range []string{"Configuration", "Metrics", "Example output"} {
			assert(t, titles[want], "cmd/%s/README.md: no \"## %s\" section", e.Name(), want)
		}
	}
	require.GreaterOrEqual(t, n, 5)
}
