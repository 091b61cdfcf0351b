package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/dashboards"
	"github.com/logcollect/logcollect/deploy"
	"github.com/logcollect/logcollect/internal/testenv"
)

// TestMonitoringStackLive runs the pipeline from the built binaries with a real Prometheus
// loaded with the shipped scrape config and alert rules (deploy/prometheus, dashboards/prometheus), and checks the shipped monitoring
// files against it: every panel of both Grafana dashboards shows data, every metric the
// dashboards and alerts name is exported, the Kibana saved search and visualization find the
// indexed lines, and stopping Elasticsearch makes the transfer's alert go pending, then
// resolve once it is back.
func TestMonitoringStackLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts every server and the three binaries")
	}
	s := startStack(t)
	targets := map[string][]string{}
	for job, addr := range s.addrs {
		targets[job] = []string{addr}
	}
	promCfg, err := deploy.PrometheusConfig(filepath.Join(repoRoot(t), "deploy", "prometheus", "prometheus.yml"),
		deploy.PrometheusOverrides{Targets: targets, ScrapeInterval: time.Second, EvaluationInterval: time.Second})
	require.NoError(t, err)
	prom := testenv.StartPrometheus(t, string(promCfg))
	require.NoError(t, prom.WaitTargetsUp(len(s.addrs), 60*time.Second))

	ctx, cancel := context.WithCancel(t.Context())
	writer := s.writeLines(ctx, t)
	defer func() { cancel(); writer.Wait() }()
	s.producePoison(t)

	queries, err := dashboards.AllQueries()
	require.NoError(t, err)
	require.NotEmpty(t, queries)

	t.Run("panels", func(t *testing.T) {
		// Rates need two scrapes and the quantiles an observation in their window; the
		// consumer lag is refreshed every 10 s and the hosts' derivatives need two
		// intervals of samples, so the first answers may be empty: each query gets until
		// the shared deadline to show data.
		deadline := time.Now().Add(90 * time.Second)
		hostVars := map[string]string{"host": sysmonHost, "__interval": "2s", "timeFilter": "time > now() - 10m"}
		for _, q := range queries {
			var expr string
			var series func() (int, error)
			switch q.Kind {
			case dashboards.KindPrometheus:
				expr, err = q.Expand(dashboards.PipelineVars)
				series = func() (int, error) {
					res, err := prom.Query(expr)
					return len(res), err
				}
			case dashboards.KindInfluxDB:
				expr, err = q.Expand(hostVars)
				series = func() (int, error) {
					res, err := s.influx.Query(influxDB, expr)
					n := 0
					for _, r := range res {
						n += len(r.Rows())
					}
					return n, err
				}
			default:
				t.Fatalf("%s: unknown kind %q", q, q.Kind)
			}
			require.NoError(t, err)
			for {
				n, err := series()
				require.NoError(t, err, "%s: %s", q, expr)
				if n > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("%s: no data from %s", q, expr)
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
		t.Logf("%d dashboard queries return data", len(queries))
	})

	t.Run("metric names", func(t *testing.T) {
		exported := map[string]bool{}
		res, err := prom.Query(`group by (__name__) ({job=~"logagent|logtransfer|sysmon"})`)
		require.NoError(t, err)
		for _, r := range res {
			exported[r.Labels["__name__"]] = true
		}
		uses, err := dashboards.UsedMetrics()
		require.NoError(t, err)
		require.NotEmpty(t, uses)
		for _, u := range uses {
			require.True(t, exported[u.Metric] || u.Metric == "up", "%s uses %s, which no binary exports; exported: %v", u.Where, u.Metric, slices.Sorted(maps.Keys(exported)))
		}
	})

	// The saved searches and visualizations, run as Kibana would against the indexed lines
	// (nginx lines, parsed by the stack's web pipeline): each finds documents, with every
	// column, and each visualization has the buckets the lines make.
	t.Run("kibana", func(t *testing.T) {
		k, err := dashboards.LoadKibana()
		require.NoError(t, err)
		for _, search := range k.Searches {
			body, err := search.SearchBody(10)
			require.NoError(t, err)
			var found dashboards.SearchHits
			require.Eventually(t, func() bool {
				esSearch(t, s.es.URL(), search.Index, body, &found)
				return len(found.Hits.Hits) > 0
			}, 30*time.Second, 500*time.Millisecond, "saved search %q over %s finds nothing", search.Title, search.Index)
			require.Empty(t, search.MissingColumn(found.Hits.Hits[0].Source), "saved search %q: a column is not in the documents: %v", search.Title, found.Hits.Hits[0].Source)
		}

		buckets := map[string][]string{ // what each visualization's buckets name
			dashboards.KibanaVisualizationID:       {"e2e-agent", topic},
			dashboards.KibanaStatusVisualizationID: {`"key":200`},
		}
		for _, v := range k.Visualizations {
			want, ok := buckets[v.ID]
			require.True(t, ok, "visualization %s: no expected buckets in this test", v.ID)
			body, err := v.SearchBody("1m")
			require.NoError(t, err)
			var agg struct {
				Aggregations map[string]any `json:"aggregations"`
			}
			esSearch(t, s.es.URL(), v.Index, body, &agg)
			require.NotEmpty(t, agg.Aggregations, "visualization %q", v.Title)
			out, _ := json.Marshal(agg.Aggregations)
			for _, w := range want {
				require.Contains(t, string(out), w, "visualization %q buckets", v.Title)
			}
		}
	})

	t.Run("elasticsearch outage alert", func(t *testing.T) {
		watched := []string{dashboards.AlertTransferStalled, dashboards.AlertElasticsearchUnreachable}
		active := func() []string {
			alerts, err := prom.Alerts()
			require.NoError(t, err)
			var names []string
			for _, a := range alerts {
				if slices.Contains(watched, a.Name) && (a.State == "pending" || a.State == "firing") {
					names = append(names, a.Name+"="+a.State)
				}
			}
			return names
		}
		require.Empty(t, active(), "before the outage")
		require.NoError(t, s.es.Stop())
		require.Eventually(t, func() bool { return len(active()) > 0 }, 90*time.Second, time.Second,
			"none of %v went pending with Elasticsearch down", watched)
		t.Logf("with Elasticsearch down: %v", active())
		require.NoError(t, s.es.Start())
		require.Eventually(t, func() bool { return len(active()) == 0 }, 90*time.Second, time.Second,
			"alerts still active after Elasticsearch returned")
	})
}

// esSearch posts body to index's _search and decodes the answer into v.
func esSearch(t *testing.T, base, index string, body, v any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(base+"/"+url.PathEscape(index)+"/_search", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "POST %s/_search %s: %s", index, b, buf.String())
	require.NoError(t, json.Unmarshal(buf.Bytes(), v), buf.String())
}
