package ctl

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/esindex"
)

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{-1: "-", 0: "0B", 1023: "1023B", 1024: "1.0KiB", 1536: "1.5KiB", 40211967: "38.3MiB", 5 << 30: "5.0GiB"} {
		require.Equal(t, want, formatBytes(n), "%d", n)
	}
}

// The date column names the period the index holds, by the template's
// finest field.
func TestIndicesTable(t *testing.T) {
	mk := func(template, name string, docs, size int64) esindex.Info {
		tmpl, err := esindex.Parse(template)
		require.NoError(t, err)
		idx, ok := tmpl.Match(name)
		require.True(t, ok, name)
		return esindex.Info{Index: idx, Docs: docs, Bytes: size, Health: "green"}
	}
	var b bytes.Buffer
	require.NoError(t, WriteIndices(&b, []esindex.Info{
		mk("{topic}-{yyyy.MM.dd}", "web-2026.03.08", 10, 2048),
		mk("{topic}-{yyyy.MM.dd.HH}", "web-2026.03.08.07", -1, -1),
		mk("{topic}-{yyyy.MM}", "web-2026.03", 5, 1024),
		mk("{topic}-{yyyy}", "web-2026", 1, 10),
	}))
	require.Equal(t, `INDEX              TOPIC  DATE            DOCS  SIZE    HEALTH
web-2026.03.08     web    2026-03-08      10    2.0KiB  green
web-2026.03.08.07  web    2026-03-08T07Z  -     -       green
web-2026.03        web    2026-03         5     1.0KiB  green
web-2026           web    2026            1     10B     green
4 indices, 16 docs, 3.0KiB
`, b.String())

	b.Reset()
	p := mk("{topic}-{yyyy.MM.dd}", "web-2026.03.08", 10, 2048)
	require.NoError(t, WritePruned(&b, []Pruned{{Info: p, Deleted: true}, {Info: p, Error: "boom"}, {Info: p}}, false))
	require.Equal(t, "deleted web-2026.03.08 (2026-03-08, 10 docs, 2.0KiB)\nFAILED to delete web-2026.03.08: boom\nweb-2026.03.08: already gone\n1 indices deleted, 10 docs, 2.0KiB\n", b.String())
}
