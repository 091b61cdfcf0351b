package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/dashboards"
	"github.com/logcollect/logcollect/internal/metricsref"
	"github.com/logcollect/logcollect/sysmon"
	"github.com/logcollect/logcollect/transfer"
)

// The README's reference sections cannot rot: the tests below compare them with the code.
// Each fails on a key, metric or alert the README is missing, and on one it documents that
// no longer exists.

// readmeSections returns the "### " subsections of the README's "## title" section, by
// heading, each with its lines.
func readmeSections(t *testing.T, title string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	out := map[string][]string{}
	in, sub, fence := false, "", false
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		switch {
		case fence:
		case strings.HasPrefix(line, "## "):
			in, sub = line == "## "+title, ""
			continue
		case in && strings.HasPrefix(line, "### "):
			sub = strings.TrimPrefix(line, "### ")
			out[sub] = []string{}
			continue
		}
		if in && sub != "" {
			out[sub] = append(out[sub], line)
		}
	}
	require.NotEmpty(t, out, "README.md has no \"## %s\" section with \"### \" subsections", title)
	return out
}

// tableRows returns the cells of the table rows of lines, header and separator rows left
// out, by the first cell with its backquotes removed.
func tableRows(lines []string) map[string][]string {
	rows := map[string][]string{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "|") || strings.HasPrefix(l, "|-") || strings.HasPrefix(l, "|:") {
			continue
		}
		cells := splitRow(l)
		first := cells[0]
		if !strings.HasPrefix(first, "`") {
			continue // a header
		}
		rows[strings.Trim(first, "`")] = cells
	}
	return rows
}

// splitRow splits a Markdown table row into trimmed cells; `\|` is a | inside a cell.
func splitRow(l string) []string {
	l = strings.Trim(strings.TrimSpace(l), "|")
	l = strings.ReplaceAll(l, `\|`, "\x00")
	var cells []string
	for c := range strings.SplitSeq(l, "|") {
		cells = append(cells, strings.ReplaceAll(strings.TrimSpace(c), "\x00", "|"))
	}
	return cells
}

// yamlKeys returns the dotted paths of every key of the config type t, nested: a struct's
// keys under its own, `[]` after a list of structs ("tasks[].path"), inline structs
// flattened. Maps, lists of scalars and scalars (durations too) are leaves.
func yamlKeys(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var keys []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if opts == "inline" {
			keys = append(keys, yamlKeys(ft, prefix)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := prefix + name
		switch {
		case ft.Kind() == reflect.Struct:
			keys = append(keys, yamlKeys(ft, key+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, yamlKeys(ft.Elem(), key+"[].")...)
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

func TestYAMLKeys(t *testing.T) {
	keys := yamlKeys(reflect.TypeFor[agent.Config](), "")
	for _, k := range []string{"kafka.brokers", "kafka.tls.ca_file", "kafka.sasl.mechanism", "tasks[].multiline.pattern",
		"tasks[].fields", "sysmon.influx.url", "shutdown_timeout", "log.level"} {
		require.Contains(t, keys, k)
	}
	keys = yamlKeys(reflect.TypeFor[sysmon.FileConfig](), "")
	require.Contains(t, keys, "interval") // inline
	require.Contains(t, keys, "metrics.listen")
	require.NotContains(t, keys, "config.interval")
}

// TestReadmeConfigReference: every key of every binary's config file has a row in the
// README's configuration reference for that binary, and every row is a key. logagent's
// `sysmon:` section has the keys of sysmon's config, documented once, in sysmon's table.
func TestReadmeConfigReference(t *testing.T) {
	sections := readmeSections(t, "Configuration reference")
	sysmonKeys := yamlKeys(reflect.TypeFor[sysmon.FileConfig](), "")
	for _, tt := range []struct {
		binary string
		keys   []string
	}{
		{"logagent", yamlKeys(reflect.TypeFor[agent.Config](), "")},
		{"logtransfer", yamlKeys(reflect.TypeFor[transfer.Config](), "")},
		{"sysmon", sysmonKeys},
	} {
		t.Run(tt.binary, func(t *testing.T) {
			lines, ok := sections[tt.binary]
			require.True(t, ok, "README.md: no \"### %s\" under \"## Configuration reference\"", tt.binary)
			rows := tableRows(lines)
			want := map[string]bool{}
			for _, k := range tt.keys {
				if sub, ok := strings.CutPrefix(k, "sysmon."); ok && tt.binary == "logagent" {
					require.Contains(t, sysmonKeys, sub, "logagent's %s is not a key of sysmon's config", k)
					want["sysmon"] = true
					continue
				}
				want[k] = true
			}
			for k := range want {
				cells, ok := rows[k]
				if !assert(t, ok, "README.md, configuration reference of %s: no row for the key `%s`", tt.binary, k) {
					continue
				}
				assert(t, len(cells) >= 3 && cells[2] != "", "README.md, configuration reference of %s: `%s` has no meaning", tt.binary, k)
			}
			for k := range rows {
				assert(t, want[k], "README.md, configuration reference of %s: `%s` is not a key of its config", tt.binary, k)
			}
		})
	}
	t.Run("logctl", func(t *testing.T) {
		lines, ok := sections["logctl"]
		require.True(t, ok, "README.md: no \"### logctl\" under \"## Configuration reference\"")
		rows := tableRows(lines)
		flags := map[string]bool{}
		for _, f := range logctlFlags(t) {
			flags[f] = true
			_, ok := rows[f]
			assert(t, ok, "README.md, configuration reference of logctl: no row for the flag `%s`", f)
		}
		for k := range rows {
			if strings.HasPrefix(k, "--") {
				assert(t, flags[k], "README.md, configuration reference of logctl: `%s` is not a logctl flag", k)
			}
		}
	})
}

// logctlFlags returns logctl's connection flags, "--etcd", ...: those every command has.
func logctlFlags(t *testing.T) []string {
	var names []string
	root, _ := rootCommand()
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) { names = append(names, "--"+f.Name) })
	require.Contains(t, names, "--etcd")
	return names
}

// assert is require without the stop: every missing entry is reported in one run.
func assert(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

// exportedMetrics returns the metrics of logagent, logtransfer and sysmon and those of the
// shared registry (metricsref.All), by name. The Go and process collectors' go_* and
// process_* are left out: the README names them as families.
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

// TestReadmeMetricsReference: every metric the binaries export has a row in the README's
// metrics reference with its type and labels, and every row is an exported metric.
func TestReadmeMetricsReference(t *testing.T) {
	exported := exportedMetrics(t)
	rows := map[string][]string{}
	for sub, lines := range readmeSections(t, "Metrics reference") {
		for k, cells := range tableRows(lines) {
			require.NotContains(t, rows, k, "README.md, metrics reference: %s listed twice (again under %s)", k, sub)
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
		if !assert(t, ok, "README.md, metrics reference: no row for %s (%s)", name, m.Type) {
			continue
		}
		if !assert(t, len(cells) >= 4, "README.md, metrics reference: %s: want | name | type | labels | meaning |", name) {
			continue
		}
		assert(t, cells[1] == m.Type, "README.md, metrics reference: %s is a %s, not %q", name, m.Type, cells[1])
		var documented []string
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(cells[2], -1) {
			documented = append(documented, l[1])
		}
		want := slices.Sorted(slices.Values(m.Labels))
		slices.Sort(documented)
		assert(t, slices.Equal(want, documented), "README.md, metrics reference: %s has the labels %v, the README says %v", name, want, documented)
		assert(t, cells[3] != "", "README.md, metrics reference: %s has no meaning", name)
	}
	for k := range rows {
		if k == "go_*" || k == "process_*" {
			continue
		}
		_, ok := exported[k]
		assert(t, ok, "README.md, metrics reference: %s is not exported by any binary", k)
	}
}

// TestReadmeTroubleshooting: every alert of dashboards/prometheus/alerts.yml has a
// "### AlertName" entry under "## Troubleshooting" saying what to do, and every entry is an
// alert.
func TestReadmeTroubleshooting(t *testing.T) {
	sections := readmeSections(t, "Troubleshooting")
	rules, err := dashboards.AlertRules()
	require.NoError(t, err)
	require.NotEmpty(t, rules)
	alerts := map[string]bool{}
	for _, r := range rules {
		alerts[r.Alert] = true
		lines, ok := sections[r.Alert]
		if !assert(t, ok, "README.md, troubleshooting: no \"### %s\" entry", r.Alert) {
			continue
		}
		text := strings.Join(lines, "\n")
		for _, part := range []string{"**Means**", "**Causes**", "**Do**"} {
			assert(t, strings.Contains(text, part), "README.md, troubleshooting of %s: no %s part", r.Alert, part)
		}
	}
	for name := range sections {
		assert(t, alerts[name], "README.md, troubleshooting: %q is not an alert of dashboards/prometheus/alerts.yml", name)
	}
}
