package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// markdownLink matches an inline Markdown link or image, [text](target) or
// [text](target "title"), capturing the target.
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// TestLinks: every relative link of every Markdown file of the repository points to a file
// or directory that exists, and a link to a heading (page.md#anchor, #anchor) to a heading
// of that page. Moving a section, or a file, breaks the links to it here rather than for a
// reader.
func TestLinks(t *testing.T) {
	root := ".."
	var pages []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "var" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			pages = append(pages, path)
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, pages, filepath.Join(root, "README.md"))
	anchors := map[string]map[string]bool{} // by page path
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		anchors[path] = Anchors(string(b))
		return anchors[path]
	}
	var links int
	for _, page := range pages {
		b, err := os.ReadFile(page)
		require.NoError(t, err)
		name, _ := filepath.Rel(root, page)
		fence := false
		for n, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "```") {
				fence = !fence
			}
			if fence {
				continue
			}
			for _, m := range markdownLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				file, anchor, _ := strings.Cut(target, "#")
				path := page
				if file != "" {
					path = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
					_, err := os.Stat(path)
					if !assert(t, err == nil, "%s:%d: link %s: no such file", name, n+1, target) {
						continue
					}
				}
				if anchor != "" && strings.HasSuffix(path, ".md") {
					assert(t, anchorsOf(path)[anchor], "%s:%d: link %s: no heading with the anchor #%s", name, n+1, target, anchor)
				}
			}
		}
	}
	require.Greater(t, links, 50, "too few links found: is the pattern wrong?")
}
