package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/testenv"
)

// agentMetricsServer serves the agent's own metrics (agent.NewMetrics) and
// adds lines per scrape, so two scrapes see a rate.
func agentMetricsServer(t *testing.T, linesPerScrape float64) (port string) {
	reg := prometheus.NewRegistry()
	m := agent.NewMetrics(reg)
	m.LagBytes.Track("/var/log/*.log", "web_log", func() float64 { return 28 })
	m.LagBytes.Track("/var/log/app.log", "app_log", func() float64 { return 100 })
	m.SendErrors.WithLabelValues("/var/log/*.log", "web_log").Add(3)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.LinesRead.WithLabelValues("/var/log/*.log", "web_log").Add(linesPerScrape)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	return port
}

func TestAgents(t *testing.T) {
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	ctx := context.Background()

	agents, err := ListAgents(ctx, cli, 5*time.Second)
	require.NoError(t, err)
	require.Empty(t, agents)

	port := agentMetricsServer(t, 1000)
	start := time.Now().Add(-(2*time.Hour + 3*time.Minute))
	// The agent listens on 0.0.0.0: logctl scrapes the agent's IP instead.
	register(t, cli, collect.AgentInfo{Hostname: "web-1", IP: "127.0.0.1", Version: "1.4.0", StartTime: start, Tasks: 2,
		MetricsURL: "http://0.0.0.0:" + port + "/metrics"})
	register(t, cli, collect.AgentInfo{Hostname: "web-2", IP: "127.0.0.2", Version: "1.3.9", StartTime: start, Tasks: 1})
	stop3 := register(t, cli, collect.AgentInfo{Hostname: "web-3", IP: "127.0.0.3", Version: "1.3.9", StartTime: start, Tasks: 1,
		MetricsURL: "http://" + testenv.FreeAddr(t) + "/metrics"})

	agents, err = ListAgents(ctx, cli, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, agents, 3)
	require.Equal(t, "web-1", agents[0].Hostname)
	require.Equal(t, 2, agents[0].Tasks)
	require.InDelta(t, (2*time.Hour + 3*time.Minute).Seconds(), agents[0].Uptime.Seconds(), 5)

	var table bytes.Buffer
	require.NoError(t, WriteAgents(&table, agents, false))
	require.Regexp(t, regexp.MustCompile(`^HOST +IP +VERSION +UPTIME +TASKS\n`+
		`web-1 +127\.0\.0\.1 +1\.4\.0 +2h03m +2\n`+
		`web-2 +127\.0\.0\.2 +1\.3\.9 +2h03m +1\n`+
		`web-3 +127\.0\.0\.3 +1\.3\.9 +2h03m +1\n$`), table.String())

	ScrapeAgents(ctx, agents, 500*time.Millisecond, &http.Client{Timeout: 5 * time.Second})
	m := agents[0].Metrics
	require.Empty(t, m.Error)
	// 1000 lines between scrapes about 0.5 s apart.
	require.InDelta(t, 2000, m.LinesPerSecond, 600)
	require.Equal(t, 128.0, m.LagBytes)
	require.Equal(t, 3.0, m.SendErrors)
	require.Equal(t, "agent 127.0.0.2 registered no metrics_url", agents[1].Metrics.Error)
	require.Contains(t, agents[2].Metrics.Error, "connection refused")

	table.Reset()
	require.NoError(t, WriteAgents(&table, agents, true))
	require.Regexp(t, `HOST +IP +VERSION +UPTIME +TASKS +LINES/S +LAG BYTES +SEND ERRORS\n`+
		`web-1 +127\.0\.0\.1 +1\.4\.0 +2h03m +2 +\d+\.\d +128 +3\n`+
		`web-2 .* - +- +- +\(agent 127\.0\.0\.2 registered no metrics_url\)\n`, table.String())

	var js bytes.Buffer
	require.NoError(t, WriteJSON(&js, agents[:1]))
	var decoded []map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &decoded))
	require.Equal(t, "web-1", decoded[0]["hostname"])
	require.InDelta(t, 7380, decoded[0]["uptime_seconds"], 5)
	require.Equal(t, 128.0, decoded[0]["metrics"].(map[string]any)["lag_bytes"])

	// A stopped agent is gone at once (its Registrar revokes the lease).
	stop3()
	agents, err = ListAgents(ctx, cli, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, agents, 2)
}

func TestFormatUptime(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{42*time.Second + 900*time.Millisecond, "42s"},
		{5*time.Minute + 2*time.Second, "5m02s"},
		{3*time.Hour + 4*time.Minute + 59*time.Second, "3h04m"},
		{2*24*time.Hour + 7*time.Hour + 30*time.Minute, "2d07h"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) { require.Equal(t, tt.want, FormatUptime(tt.d)) })
	}
}

func TestMetricsURL(t *testing.T) {
	tests := []struct {
		name, url, ip, want, wantErr string
	}{
		{name: "as registered", url: "http://10.0.0.7:9101/metrics", ip: "10.0.0.7", want: "http://10.0.0.7:9101/metrics"},
		{name: "loopback kept", url: "http://127.0.0.1:9101/metrics", ip: "10.0.0.7", want: "http://127.0.0.1:9101/metrics"},
		{name: "0.0.0.0 is the agent's IP", url: "http://0.0.0.0:9101/metrics", ip: "10.0.0.7", want: "http://10.0.0.7:9101/metrics"},
		{name: ":: is the agent's IP", url: "http://[::]:9101/metrics", ip: "fd00::7", want: "http://[fd00::7]:9101/metrics"},
		{name: "none", ip: "10.0.0.7", wantErr: "agent 10.0.0.7 registered no metrics_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := metricsURL(collect.AgentInfo{IP: tt.ip, MetricsURL: tt.url})
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
