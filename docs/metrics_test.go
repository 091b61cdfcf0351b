package docs

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/metricsref"
)

// exportedMetrics returns the metrics of logagent, logtransfer and sysmon and those of the
// shared registry (metricsref.All), by name. The Go and process collectors' go_* and
// process_* are left out: metrics.md names them as families.
func exportedMetrics(t *testing.T) map[string]metricsref.Metric {
	t.Helper()
	out, err := metricsref.All()
	require.NoError(t, err)
	for name := range out {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			delete(out, name)
		}
	}
	require.Contains(t, out, "logagent_lines_read_total")
	require.Contains(t, out, "logtransfer_docs_indexed_total")
	require.Contains(t, out, "sysmon_points_written_total")
	require.Contains(t, out, "logcollect_build_info")
	return out
}

// TestMetricsReference: every metric the binaries export has a row in metrics.md with its
// type and labels, and every row is an exported metric.
func TestMetricsReference(t *testing.T) {
	exported := exportedMetrics(t)
	binaries := []string{"logagent", "logtransfer", "sysmon", "Every binary"}
	secs := sections(t, "metrics.md", 3, binaries...)
	rows := map[string][]string{}
	for _, sub := range binaries {
		for k, cells := range TableRows(secs[sub]) {
			require.NotContains(t, rows, k, "metrics.md: %s listed twice (again under %s)", k, sub)
			rows[k] = cells
		}
	}
	names := make([]string, 0, len(exported))
	for n := range exported {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		m := exported[name]
		cells, ok := rows[name]
		if !assert(t, ok, "metrics.md: no row for %s (%s)", name, m.Type) {
			continue
		}
		if !assert(t, len(cells) >= 4, "metrics.md: %s: want | name | type | labels | meaning |", name) {
			continue
		}
		assert(t, cells[1] == m.Type, "metrics.md: %s is a %s, not %q", name, m.Type, cells[1])
		var documented []string
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(cells[2], -1) {
			documented = append(documented, l[1])
		}
		want := slices.Sorted(slices.Values(m.Labels))
		slices.Sort(documented)
		assert(t, slices.Equal(want, documented), "metrics.md: %s has the labels %v, the page says %v", name, want, documented)
		assert(t, cells[3] != "", "metrics.md: %s has no meaning", name)
	}
	for k := range rows {
		if k == "go_*" || k == "process_*" {
			continue
		}
		_, ok := exported[k]
		assert(t, ok, "metrics.md: %s is not exported by any binary", k)
	}
}
