package docs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The tests of this package fail on an entry a page is missing and on one it documents
// that no longer exists; assert (rather than require) reports every such entry in one run.

// sections returns the sections of the given level of page, by title, each with its lines.
// Every title must be there.
func sections(t *testing.T, page string, level int, titles ...string) map[string][]string {
	t.Helper()
	all, err := Sections(page)
	require.NoError(t, err)
	out := map[string][]string{}
	for _, s := range all {
		if s.Level == level {
			require.NotContains(t, out, s.Title, "%s: two sections %q", page, s.Title)
			out[s.Title] = s.Lines
		}
	}
	for _, title := range titles {
		require.Contains(t, out, title, "%s: no %q section", page, title)
	}
	return out
}

// assert is require without the stop: every missing entry is reported in one run.
func assert(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

func TestParseSections(t *testing.T) {
	got := ParseSections("intro\n# A\na\n## B\nb\n```\n## not a heading\n```\n### C\nc\n## D\nd\n#no\n")
	require.Equal(t, []Section{
		{Level: 1, Title: "A", Lines: []string{"a", "## B", "b", "```", "## not a heading", "```", "### C", "c", "## D", "d", "#no", ""}},
		{Level: 2, Title: "B", Lines: []string{"b", "```", "## not a heading", "```", "### C", "c"}},
		{Level: 3, Title: "C", Lines: []string{"c"}},
		{Level: 2, Title: "D", Lines: []string{"d", "#no", ""}},
	}, got)
}

func TestAnchors(t *testing.T) {
	for _, tt := range []struct{ title, want string }{
		{"LogagentDown", "logagentdown"},
		{"Every binary", "every-binary"},
		{"Try it: docker compose", "try-it-docker-compose"},
		{"`tls:` blocks", "tls-blocks"},
		{"logagent and its peers", "logagent-and-its-peers"},
		{"retry_max_backoff", "retry_max_backoff"},
	} {
		require.Equal(t, tt.want, Anchor(tt.title), tt.title)
	}
	require.Equal(t, map[string]bool{"a": true, "a-1": true, "b": true}, Anchors("# A\n## A\n```\n# B\n```\n## B\n"))
}

func TestTableRows(t *testing.T) {
	rows := TableRows([]string{
		"| Key | Default | Meaning |",
		"|---|---|---|",
		"| `a.b` | `1` | One \\| two. |",
		"text",
		"| plain | x | not a key |",
	})
	require.Equal(t, map[string][]string{"a.b": {"`a.b`", "`1`", "One | two."}}, rows)
}
