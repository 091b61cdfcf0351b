package dashboards

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the generated files (same as go generate ./dashboards)")

// TestGeneratedFilesUpToDate fails when a checked-in dashboard or the Kibana
// file differs from what the Go code generates: either the JSON was edited
// by hand or the code changed without regenerating.
func TestGeneratedFilesUpToDate(t *testing.T) {
	files, err := Generate()
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, f := range files {
		t.Run(f.Path, func(t *testing.T) {
			path := filepath.FromSlash(f.Path)
			if *update {
				require.NoError(t, os.WriteFile(path, f.Data, 0o644))
			}
			onDisk, err := os.ReadFile(path)
			require.NoError(t, err)
			if !bytes.Equal(onDisk, f.Data) {
				t.Fatalf("dashboards/%s differs from what the code generates.\n"+
					"Edit the Go code (not the JSON), then run `go generate ./dashboards` "+
					"(or `go test ./dashboards -run TestGeneratedFilesUpToDate -update`) and commit the result.", f.Path)
			}
			embedded, err := Files.ReadFile(f.Path)
			require.NoError(t, err)
			require.Equal(t, string(onDisk), string(embedded), "the embedded copy is stale: rebuild")
		})
	}
}

// TestGenerateIsDeterministic: two runs give the same bytes (no map order or
// time leaks into the files), or the up-to-date check would flap.
func TestGenerateIsDeterministic(t *testing.T) {
	a, err := Generate()
	require.NoError(t, err)
	b, err := Generate()
	require.NoError(t, err)
	require.Equal(t, a, b)
}

type dashboardJSON struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name       string         `json:"name"`
			Type       string         `json:"type"`
			Query      any            `json:"query"`
			Datasource *rawDatasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		rawPanel
		ID      int `json:"id"`
		GridPos struct {
			H, W, X, Y int
		} `json:"gridPos"`
	} `json:"panels"`
}

func loadDashboard(t *testing.T, name string) dashboardJSON {
	t.Helper()
	data, err := Files.ReadFile(name)
	require.NoError(t, err)
	var d dashboardJSON
	require.NoError(t, json.Unmarshal(data, &d), name)
	return d
}

// TestPanelsDocumented: every panel has a unit, a description that says
// what a bad value means, and at least one query; ids are unique and the
// panels fit the 24-column grid without overlapping.
func TestPanelsDocumented(t *testing.T) {
	for _, name := range []string{PipelineFile, HostsFile} {
		t.Run(name, func(t *testing.T) {
			d := loadDashboard(t, name)
			ids := map[int]bool{}
			type cell struct{ x, y int }
			used := map[cell]string{}
			panels := 0
			for _, p := range d.Panels {
				require.False(t, ids[p.ID], "panel id %d used twice", p.ID)
				ids[p.ID] = true
				require.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, "%q is wider than the grid", p.Title)
				for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
					for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
						other, taken := used[cell{x, y}]
						require.False(t, taken, "%q overlaps %q at (%d,%d)", p.Title, other, x, y)
						used[cell{x, y}] = p.Title
					}
				}
				if p.Type == "row" {
					continue
				}
				panels++
				require.NotEmpty(t, p.Title)
				require.NotNil(t, p.FieldConfig, "%q has no fieldConfig", p.Title)
				require.NotEmpty(t, p.FieldConfig.Defaults.Unit, "%q has no unit", p.Title)
				require.GreaterOrEqual(t, len(p.Description), 80, "%q: the description is too short to say what the panel shows and what is bad", p.Title)
				require.Contains(t, p.Description, "Bad", "%q: the description must say what a bad value means (\"Bad: ...\")", p.Title)
				require.NotEmpty(t, p.Targets, "%q has no query", p.Title)
			}
			require.GreaterOrEqual(t, panels, 7)
		})
	}
}

// TestVariables: the template variables the issue asks for exist, with the
// right data source kind, and every panel and target uses $datasource.
func TestVariables(t *testing.T) {
	tests := []struct {
		file string
		kind Kind
		want map[string]string // variable name -> query ("" for the datasource variable)
	}{
		{PipelineFile, KindPrometheus, map[string]string{
			"datasource": "",
			"job":        `label_values(logcollect_build_info, job)`,
			"instance":   `label_values(logcollect_build_info{job=~"$job"}, instance)`,
			"topic":      `label_values({__name__=~"logagent_records_sent_total|logtransfer_records_consumed_total", job=~"$job"}, topic)`,
		}},
		{HostsFile, KindInfluxDB, map[string]string{
			"datasource": "",
			"host":       `SHOW TAG VALUES FROM "cpu" WITH KEY = "host"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d := loadDashboard(t, tt.file)
			got := map[string]string{}
			for _, v := range d.Templating.List {
				switch v.Type {
				case "datasource":
					require.Equal(t, string(tt.kind), v.Query, "$%s plugin", v.Name)
					got[v.Name] = ""
				case "query":
					require.NotNil(t, v.Datasource)
					require.Equal(t, string(tt.kind), v.Datasource.Type)
					require.Equal(t, "${datasource}", v.Datasource.UID)
					got[v.Name], _ = v.Query.(string)
				default:
					t.Fatalf("unexpected variable type %q", v.Type)
				}
			}
			require.Equal(t, tt.want, got)
			for _, p := range d.Panels {
				if p.Type == "row" {
					continue
				}
				require.Equal(t, &rawDatasource{Type: string(tt.kind), UID: "${datasource}"}, p.Datasource, p.Title)
				for _, tg := range p.Targets {
					require.Equal(t, &rawDatasource{Type: string(tt.kind), UID: "${datasource}"}, tg.Datasource, p.Title)
				}
			}
		})
	}
}

// TestPipelineQueriesHonourVariables: every selector of every pipeline panel
// is filtered by $job and $instance (so the variables really filter the
// dashboard), and the expressions parse after expansion.
func TestPipelineQueriesHonourVariables(t *testing.T) {
	data, err := Files.ReadFile(PipelineFile)
	require.NoError(t, err)
	qs, err := Queries(data)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(qs), 30)
	for _, q := range qs {
		require.Contains(t, q.Expr, `job=~"$job"`, q.String())
		expr, err := q.Expand(PipelineVars)
		require.NoError(t, err)
		uses, err := PromQLMetrics(q.String(), expr)
		require.NoError(t, err)
		require.NotEmpty(t, uses, q.String())
		for _, u := range uses {
			require.Subset(t, u.Labels, []string{"job", "instance"}, "%s: selector of %s is not filtered by $job and $instance", q, u.Metric)
		}
	}
}

// influxSelect pulls the measurement out of a raw InfluxQL SELECT.
var influxFrom = regexp.MustCompile(`FROM "(\w+)" WHERE`)

// TestHostsQueries: every InfluxQL query is filtered by $host and the time
// range and grouped by $__interval, and together they cover the Telegraf
// measurements the issue lists.
func TestHostsQueries(t *testing.T) {
	data, err := Files.ReadFile(HostsFile)
	require.NoError(t, err)
	qs, err := Queries(data)
	require.NoError(t, err)
	var measurements []string
	for _, q := range qs {
		require.Equal(t, KindInfluxDB, q.Kind)
		require.True(t, strings.HasPrefix(q.Expr, "SELECT "), q.String())
		require.Contains(t, q.Expr, `"host" =~ /^$host$/`, q.String())
		require.Contains(t, q.Expr, `$timeFilter`, q.String())
		require.Contains(t, q.Expr, `GROUP BY time($__interval), "host"`, q.String())
		m := influxFrom.FindStringSubmatch(q.Expr)
		require.NotNil(t, m, "%s: no FROM \"measurement\" WHERE", q)
		measurements = append(measurements, m[1])
		expanded, err := q.Expand(map[string]string{"host": "web-1"})
		require.NoError(t, err)
		require.NotContains(t, expanded, "$host")
		require.NotContains(t, expanded, "$timeFilter")
	}
	slices.Sort(measurements)
	require.Equal(t, []string{"cpu", "disk", "diskio", "mem", "net", "swap", "system"}, slices.Compact(measurements))
}
