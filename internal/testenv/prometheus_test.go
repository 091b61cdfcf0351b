package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPrometheus scrapes a tiny exporter and evaluates a rule that fires at once, so a
// broken flag, API decoding or readiness wait fails here rather than in the monitoring tests.
func TestPrometheus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "# TYPE demo_up gauge\ndemo_up 1\n# TYPE demo_total counter\ndemo_total 42")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	rules := filepath.Join(t.TempDir(), "rules.yml")
	require.NoError(t, os.WriteFile(rules, []byte(`groups:
- name: demo
  rules:
  - alert: DemoUp
    expr: demo_up == 1
    for: 10m
`), 0o644))
	p := StartPrometheus(t, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
- job_name: demo
  static_configs: [{targets: [%q]}]
`, rules, ln.Addr().String()))

	require.NoError(t, p.WaitTargetsUp(1, 20*time.Second))
	require.Eventually(t, func() bool {
		s, err := p.Query(`demo_total{job="demo"}`)
		return err == nil && len(s) == 1 && s[0].Value == 42
	}, 20*time.Second, 200*time.Millisecond)
	require.Eventually(t, func() bool {
		alerts, err := p.Alerts()
		return err == nil && len(alerts) == 1 && alerts[0].Name == "DemoUp" && alerts[0].State == "pending"
	}, 20*time.Second, 200*time.Millisecond, "a true expression with for: 10m is pending")

	_, err = p.Query(`sum(`)
	require.ErrorContains(t, err, "bad_data", "a parse error says so")
}
