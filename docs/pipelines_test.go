package docs

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/pipeline"
)

// TestPipelinesReference: every processor type logtransfer knows has a "### `type`" section
// under "## Processors" in pipelines.md, and every such section is a type; the options every
// processor takes are the table's rows.
func TestPipelinesReference(t *testing.T) {
	all, err := Sections("pipelines.md")
	require.NoError(t, err)
	var documented []string
	inProcessors := false
	for _, s := range all {
		switch {
		case s.Level == 2:
			inProcessors = s.Title == "Processors"
		case s.Level == 3 && inProcessors:
			typ, ok := strings.CutPrefix(s.Title, "`")
			typ, ok2 := strings.CutSuffix(typ, "`")
			if assert(t, ok && ok2, "pipelines.md: processor section %q: want ### `type`", s.Title) {
				documented = append(documented, typ)
			}
			assert(t, strings.Contains(strings.Join(s.Lines, "\n"), typ+":"), "pipelines.md, %s: no example", typ)
		}
	}
	types := pipeline.Types()
	require.NotEmpty(t, types)
	for _, typ := range types {
		assert(t, slices.Contains(documented, typ), "pipelines.md: no \"### `%s`\" section under \"## Processors\"", typ)
	}
	for _, typ := range documented {
		assert(t, slices.Contains(types, typ), "pipelines.md: `%s` is not a processor type (pipeline.Types: %v)", typ, types)
	}

	secs := sections(t, "pipelines.md", 2, "Options every processor takes")
	rows := TableRows(secs["Options every processor takes"])
	require.Len(t, rows, 3)
	for _, o := range []string{"if", "ignore_failure", "tag"} {
		assert(t, rows[o] != nil, "pipelines.md: the common option %s has no row", o)
	}
}
