package dashboards

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQueries(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    []Query
		wantErr string
	}{
		{
			name: "prometheus targets, datasource from the target or the panel, rows and collapsed rows",
			json: `{"title":"D","panels":[
				{"type":"row","title":"R","panels":[]},
				{"type":"timeseries","title":"P1","datasource":{"type":"prometheus","uid":"${datasource}"},
				 "targets":[{"refId":"A","expr":"rate(x_total[$__rate_interval])","legendFormat":"{{instance}}"},
				            {"refId":"B","datasource":{"type":"prometheus","uid":"x"},"expr":"up","instant":true}]},
				{"type":"row","title":"collapsed","collapsed":true,"panels":[
				 {"type":"stat","title":"P2","datasource":{"type":"prometheus"},"targets":[{"refId":"A","expr":"y"}]}]}]}`,
			want: []Query{
				{Dashboard: "D", Panel: "P1", RefID: "A", Kind: KindPrometheus, Expr: "rate(x_total[$__rate_interval])", Legend: "{{instance}}"},
				{Dashboard: "D", Panel: "P1", RefID: "B", Kind: KindPrometheus, Expr: "up", Instant: true},
				{Dashboard: "D", Panel: "P2", RefID: "A", Kind: KindPrometheus, Expr: "y"},
			},
		},
		{
			name: "raw influxql target",
			json: `{"title":"H","panels":[{"type":"timeseries","title":"CPU","targets":[
				{"refId":"A","datasource":{"type":"influxdb","uid":"${datasource}"},"query":"SELECT mean(\"usage_user\") FROM \"cpu\" WHERE $timeFilter","rawQuery":true,"alias":"$tag_host"}]}]}`,
			want: []Query{
				{Dashboard: "H", Panel: "CPU", RefID: "A", Kind: KindInfluxDB, Expr: `SELECT mean("usage_user") FROM "cpu" WHERE $timeFilter`, Legend: "$tag_host"},
			},
		},
		{
			name:    "influxdb query builder target is refused",
			json:    `{"title":"H","panels":[{"type":"timeseries","title":"CPU","datasource":{"type":"influxdb"},"targets":[{"refId":"A","query":"SELECT 1"}]}]}`,
			wantErr: "H / CPU / A: InfluxDB target is not a raw InfluxQL query",
		},
		{
			name:    "unknown data source",
			json:    `{"title":"D","panels":[{"type":"timeseries","title":"L","datasource":{"type":"loki"},"targets":[{"refId":"A","expr":"{app=\"x\"}"}]}]}`,
			wantErr: `D / L / A: data source type "loki" is neither prometheus nor influxdb`,
		},
		{
			name:    "no data source anywhere",
			json:    `{"title":"D","panels":[{"type":"timeseries","title":"P","targets":[{"refId":"A","expr":"up"}]}]}`,
			wantErr: "D / P / A: no data source",
		},
		{
			name:    "empty expression",
			json:    `{"title":"D","panels":[{"type":"timeseries","title":"P","datasource":{"type":"prometheus"},"targets":[{"refId":"A","expr":"  "}]}]}`,
			wantErr: "D / P / A: empty query",
		},
		{
			name:    "not JSON",
			json:    `{"title":`,
			wantErr: "parse dashboard",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Queries([]byte(tt.json))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestQueryExpand(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		vars    map[string]string
		want    string
		wantErr string
	}{
		{
			name: "dashboard variables and $__rate_interval default",
			expr: `sum by (task) (rate(logagent_lines_read_total{job=~"$job", instance=~"$instance", topic=~"$topic"}[$__rate_interval]))`,
			vars: map[string]string{"job": "logagent", "instance": ".+", "topic": "(app_log|web_log)"},
			want: `sum by (task) (rate(logagent_lines_read_total{job=~"logagent", instance=~".+", topic=~"(app_log|web_log)"}[1m]))`,
		},
		{
			name: "caller overrides a built-in",
			expr: `rate(x_total[$__rate_interval])`,
			vars: map[string]string{"__rate_interval": "15s"},
			want: `rate(x_total[15s])`,
		},
		{
			name: "influxql: regex anchors stay, $timeFilter and $__interval filled",
			expr: `SELECT mean("load1") FROM "system" WHERE "host" =~ /^$host$/ AND $timeFilter GROUP BY time($__interval), "host"`,
			vars: map[string]string{"host": "web-1"},
			want: `SELECT mean("load1") FROM "system" WHERE "host" =~ /^web-1$/ AND time > now() - 1h GROUP BY time(1m), "host"`,
		},
		{
			name: "${var}, ${var:format} and [[var]] forms",
			expr: `a{x="${job}", y="${job:regex}", z="[[job]]"}`,
			vars: map[string]string{"job": "j"},
			want: `a{x="j", y="j", z="j"}`,
		},
		{
			name: "longest name wins: $__interval_ms is not $__interval + _ms",
			expr: `$__interval_ms $__interval`,
			want: `60000 1m`,
		},
		{
			name:    "missing variables are named once each",
			expr:    `a{job=~"$job", instance=~"$instance"} or b{job=~"$job"}`,
			vars:    map[string]string{},
			wantErr: "no value for template variable(s) job, instance",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Query{Dashboard: "D", Panel: "P", RefID: "A", Expr: tt.expr}.Expand(tt.vars)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.ErrorContains(t, err, "D / P / A")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestAllQueriesExpand: every query of both shipped dashboards expands with
// just the dashboard variables (the built-ins come from DefaultVars), which
// is what the live test does.
func TestAllQueriesExpand(t *testing.T) {
	qs, err := AllQueries()
	require.NoError(t, err)
	kinds := map[Kind]int{}
	for _, q := range qs {
		kinds[q.Kind]++
		vars := map[string]string{"job": ".+", "instance": ".+", "topic": ".*", "host": ".+"}
		got, err := q.Expand(vars)
		require.NoError(t, err, q.String())
		require.NotContains(t, got, "$__", q.String())
	}
	require.Greater(t, kinds[KindPrometheus], 0)
	require.Greater(t, kinds[KindInfluxDB], 0)
}
