package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/collect"
)

// Agent is one live agent, as registered in etcd.
type Agent struct {
	collect.AgentInfo
	// Uptime is the time since the agent started, at the time of listing.
	Uptime time.Duration `json:"-"`
	// Metrics is set by ScrapeAgents.
	Metrics *AgentMetrics `json:"metrics,omitempty"`
}

// MarshalJSON writes Uptime in whole seconds.
func (a Agent) MarshalJSON() ([]byte, error) {
	type plain Agent
	return json.Marshal(struct {
		plain
		Uptime int64 `json:"uptime_seconds"`
	}{plain(a), int64(a.Uptime / time.Second)})
}

// AgentMetrics are figures from an agent's /metrics.
type AgentMetrics struct {
	LinesPerSecond float64 `json:"lines_per_second"` // rate of logagent_lines_read_total over the window
	LagBytes       float64 `json:"lag_bytes"`        // logagent_lag_bytes, all tasks
	SendErrors     float64 `json:"send_errors"`      // logagent_send_errors_total, all tasks
	Error          string  `json:"error,omitempty"`  // why the scrape failed
}

// agentsPrefix is the prefix of the registration keys.
var agentsPrefix = collect.RegistrationKey("")

// ListAgents returns the registered agents sorted by IP. A registration
// whose value does not decode is an error naming its key.
func ListAgents(ctx context.Context, cli *clientv3.Client, timeout time.Duration) ([]Agent, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := cli.Get(ctx, agentsPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, connError("etcd", cli.Endpoints(), "list "+agentsPrefix, err)
	}
	now := time.Now()
	agents := make([]Agent, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var a Agent
		if err := json.Unmarshal(kv.Value, &a.AgentInfo); err != nil {
			return nil, fmt.Errorf("registration %s: %w", kv.Key, err)
		}
		a.Uptime = now.Sub(a.StartTime).Truncate(time.Second)
		agents = append(agents, a)
	}
	sort.Slice(agents, func(i, j int) bool { return agents[i].IP < agents[j].IP })
	return agents, nil
}

// GetAgent returns the registration of the agent with this ip.
func GetAgent(ctx context.Context, cli *clientv3.Client, ip string, timeout time.Duration) (Agent, error) {
	agents, err := ListAgents(ctx, cli, timeout)
	if err != nil {
		return Agent{}, err
	}
	for _, a := range agents {
		if a.IP == ip {
			return a, nil
		}
	}
	return Agent{}, fmt.Errorf("no agent registered under %s", collect.RegistrationKey(ip))
}

// ScrapeAgents scrapes every agent's metrics_url twice, window apart, all
// agents at once, and sets their Metrics. A failed scrape is reported in
// Metrics.Error, not as an error.
func ScrapeAgents(ctx context.Context, agents []Agent, window time.Duration, hc *http.Client) {
	var wg sync.WaitGroup
	for i := range agents {
		wg.Go(func() {
			m, err := scrapeAgent(ctx, agents[i], window, hc)
			if err != nil {
				m = AgentMetrics{Error: err.Error()}
			}
			agents[i].Metrics = &m
		})
	}
	wg.Wait()
}

func scrapeAgent(ctx context.Context, a Agent, window time.Duration, hc *http.Client) (AgentMetrics, error) {
	u, err := metricsURL(a.AgentInfo)
	if err != nil {
		return AgentMetrics{}, err
	}
	first, err := Scrape(ctx, hc, u)
	if err != nil {
		return AgentMetrics{}, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return AgentMetrics{}, ctx.Err()
	case <-time.After(window):
	}
	second, err := Scrape(ctx, hc, u)
	if err != nil {
		return AgentMetrics{}, err
	}
	m := AgentMetrics{LagBytes: second["logagent_lag_bytes"], SendErrors: second["logagent_send_errors_total"]}
	// A counter that went down means the agent restarted in between.
	if d := second["logagent_lines_read_total"] - first["logagent_lines_read_total"]; d >= 0 {
		m.LinesPerSecond = d / time.Since(t0).Seconds()
	}
	return m, nil
}

// metricsURL is the agent's metrics_url; an unspecified listen host
// (0.0.0.0, ::) is replaced by the agent's IP.
func metricsURL(a collect.AgentInfo) (string, error) {
	if a.MetricsURL == "" {
		return "", fmt.Errorf("agent %s registered no metrics_url", a.IP)
	}
	u, err := url.Parse(a.MetricsURL)
	if err != nil {
		return "", fmt.Errorf("agent %s: metrics_url: %w", a.IP, err)
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() && a.IP != "" {
		u.Host = net.JoinHostPort(a.IP, u.Port())
	}
	return u.String(), nil
}

// Scrape GETs a Prometheus text exposition and returns the sum of each
// counter and gauge family.
func Scrape(ctx context.Context, hc *http.Client, u string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", u, err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", u, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", u, err)
	}
	out := make(map[string]float64, len(fams))
	for name, f := range fams {
		for _, m := range f.Metric {
			switch {
			case m.Counter != nil:
				out[name] += m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] += m.Gauge.GetValue()
			}
		}
	}
	return out, nil
}

// FormatUptime is a short uptime: 42s, 5m12s, 3h04m, 2d07h.
func FormatUptime(d time.Duration) string {
	d = d.Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}
