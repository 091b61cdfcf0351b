package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/logcollect/logcollect/internal/servers"
)

// Prometheus is a real Prometheus server (Debian's prometheus 2.42) running as a child
// process (servers.Prometheus) with a config the test writes. Its methods are not safe for
// concurrent use.
type Prometheus struct {
	*servers.Prometheus
}

// PrometheusBinary returns the path of the prometheus binary (servers.PrometheusBinary).
func PrometheusBinary() (string, error) { return servers.PrometheusBinary() }

// PromtoolBinary returns the path of promtool, which comes with the same package. Without it
// the caller's test fails, or is skipped in a partial run (Missing).
func PromtoolBinary(t testing.TB) string {
	t.Helper()
	bin, err := servers.PromtoolBinary()
	if err != nil {
		Missing(t, err)
	}
	return bin
}

// StartPrometheus starts Prometheus with config (the YAML text of prometheus.yml; relative
// rule_files are relative to the test's dir, so pass absolute paths) on a free 127.0.0.1 port
// with its TSDB in t.TempDir(), and waits until /-/ready answers. t.Cleanup stops it.
func StartPrometheus(t testing.TB, config string) *Prometheus {
	t.Helper()
	skipShort(t, "starts Prometheus")
	bin, err := PrometheusBinary()
	if err != nil {
		Missing(t, err)
	}
	port, _ := freePorts(t)
	sp, err := servers.NewPrometheus(servers.PrometheusConfig{Dir: t.TempDir(), Port: port, Config: []byte(config), Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus: last lines of its log:\n%s", sp.LogTail())
		}
		if err := sp.Stop(); err != nil {
			t.Error(err)
		}
	})
	start := time.Now()
	if err := sp.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("prometheus: %s ready in %s", sp.URL(), time.Since(start).Round(time.Millisecond))
	return &Prometheus{Prometheus: sp}
}

// api GETs /api/v1/<path> and decodes the "data" member into v.
func (p *Prometheus) api(path string, query url.Values, v any) error {
	u := p.URL() + "/api/v1/" + path
	if query != nil {
		u += "?" + query.Encode()
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("prometheus: GET %s: %s: decode: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("prometheus: GET %s: %s: %s: %s", path, resp.Status, body.ErrorType, body.Error)
	}
	return json.Unmarshal(body.Data, v)
}

// PromSample is one series of an instant query's result.
type PromSample struct {
	Labels map[string]string
	Value  float64
}

// Query evaluates expr now and returns its series. Scalars and strings are errors: the
// dashboards and rules only use vectors.
func (p *Prometheus) Query(expr string) ([]PromSample, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.api("query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: result type %s, want vector", expr, data.ResultType)
	}
	out := make([]PromSample, 0, len(data.Result))
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v: %w", expr, r.Value[1], err)
		}
		out = append(out, PromSample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// PromTarget is one scrape target's state.
type PromTarget struct {
	Job, ScrapeURL, Health, LastError string
}

// Targets returns the active scrape targets.
func (p *Prometheus) Targets() ([]PromTarget, error) {
	var data struct {
		Active []struct {
			Labels    map[string]string `json:"labels"`
			ScrapeURL string            `json:"scrapeUrl"`
			Health    string            `json:"health"`
			LastError string            `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := p.api("targets", url.Values{"state": {"active"}}, &data); err != nil {
		return nil, err
	}
	out := make([]PromTarget, 0, len(data.Active))
	for _, a := range data.Active {
		out = append(out, PromTarget{Job: a.Labels["job"], ScrapeURL: a.ScrapeURL, Health: a.Health, LastError: a.LastError})
	}
	return out, nil
}

// WaitTargetsUp waits until there are want active targets and every one is up.
func (p *Prometheus) WaitTargetsUp(want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		targets, err := p.Targets()
		up := 0
		for _, tg := range targets {
			if tg.Health == "up" {
				up++
			}
		}
		if err == nil && len(targets) == want && up == want {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("not all up")
			}
			return fmt.Errorf("prometheus: %d of %d targets up after %s (%+v): %w", up, want, timeout, targets, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// PromAlert is an alert that is pending or firing.
type PromAlert struct {
	Name, State string
	Labels      map[string]string
}

// Alerts returns the alerts that are pending or firing now.
func (p *Prometheus) Alerts() ([]PromAlert, error) {
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := p.api("alerts", nil, &data); err != nil {
		return nil, err
	}
	out := make([]PromAlert, 0, len(data.Alerts))
	for _, a := range data.Alerts {
		out = append(out, PromAlert{Name: a.Labels["alertname"], State: a.State, Labels: a.Labels})
	}
	return out, nil
}
