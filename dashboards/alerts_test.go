package dashboards

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/logcollect/logcollect/internal/testenv"
)

func runPromtool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testenv.PromtoolBinary(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPromtoolCheckRules(t *testing.T) {
	out, err := runPromtool(t, ".", "check", "rules", filepath.FromSlash(AlertsFile))
	require.NoError(t, err, out)
	rules, err := AlertRules()
	require.NoError(t, err)
	require.Contains(t, out, "SUCCESS: "+strconv.Itoa(len(rules))+" rules found")
}

func TestPromtoolTestRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs promtool test rules")
	}
	out, err := runPromtool(t, "prometheus", "test", "rules", "alerts_test.yml")
	require.NoError(t, err, out)
	require.Contains(t, out, "SUCCESS")
}

// TestPromtoolTestRulesCanFail: the unit tests catch a changed rule. The
// rules are copied with LogagentDown's `for:` raised from 2m to 10m, and
// promtool must then report that test as failing.
func TestPromtoolTestRulesCanFail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs promtool test rules on broken copies")
	}
	testenv.PromtoolBinary(t)
	rules, err := Files.ReadFile(AlertsFile)
	require.NoError(t, err)
	tests, err := Files.ReadFile(AlertTestsFile)
	require.NoError(t, err)
	old := "expr: up{job=\"logagent\"} == 0\n        for: 2m"
	require.Equal(t, 1, bytes.Count(rules, []byte(old)))
	broken := bytes.Replace(rules, []byte(old), []byte("expr: up{job=\"logagent\"} == 0\n        for: 10m"), 1)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), broken, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts_test.yml"), tests, 0o644))
	out, err := runPromtool(t, dir, "test", "rules", "alerts_test.yml")
	require.Error(t, err, out)
	require.Contains(t, out, "FAILED")
	require.Contains(t, out, "alertname: LogagentDown")
}

// alertTests is the part of a promtool test file this package checks.
type alertTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestEveryAlertTestedBothWays: every alert of alerts.yml has a promtool
// case where it fires and one where it must not (an eval_time expecting no
// alert), and every firing expectation lists the rendered annotations.
func TestEveryAlertTestedBothWays(t *testing.T) {
	rules, err := AlertRules()
	require.NoError(t, err)
	data, err := Files.ReadFile(AlertTestsFile)
	require.NoError(t, err)
	var at alertTests
	require.NoError(t, yaml.Unmarshal(data, &at))
	require.Equal(t, []string{"alerts.yml"}, at.RuleFiles)

	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range at.Tests {
		for _, c := range tc.AlertRuleTest {
			if len(c.ExpAlerts) == 0 {
				quiet[c.Alertname] = true
			}
			for _, e := range c.ExpAlerts {
				firing[c.Alertname] = true
				require.NotEmpty(t, e.ExpAnnotations["summary"], "%s at %s: no expected summary", c.Alertname, c.EvalTime)
			}
		}
	}
	var names []string
	for _, r := range rules {
		names = append(names, r.Alert)
		require.True(t, firing[r.Alert], "alert %s has no promtool case where it fires", r.Alert)
		require.True(t, quiet[r.Alert], "alert %s has no promtool case where it stays quiet", r.Alert)
	}
	for name := range firing {
		require.True(t, slices.Contains(names, name), "alerts_test.yml tests %s, which alerts.yml does not define", name)
	}
}

// TestAlertRulesComplete: the alerts the issue asks for exist, and each has
// a severity, a `for:`, a summary, a description, a runbook sentence and a
// runbook_url (docs/runbook_test.go checks that it points to the alert's
// entry in docs/runbook.md).
func TestAlertRulesComplete(t *testing.T) {
	rules, err := AlertRules()
	require.NoError(t, err)
	byName := map[string]AlertRule{}
	for _, r := range rules {
		require.NotContains(t, byName, r.Alert, "alert %s defined twice", r.Alert)
		byName[r.Alert] = r
		require.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], r.Alert)
		require.NotEmpty(t, r.For, "%s: a `for:` keeps one bad scrape from paging", r.Alert)
		for _, a := range []string{"summary", "description", "runbook", "runbook_url"} {
			require.NotEmpty(t, strings.TrimSpace(r.Annotations[a]), "%s: no %s annotation", r.Alert, a)
		}
		require.Len(t, r.Annotations, 4, "%s: annotations are summary, description, runbook, runbook_url", r.Alert)
	}
	for _, want := range []string{
		"LogagentDown",                  // agent down
		"LogagentKafkaUnreachable",      // agent cannot reach Kafka
		"LogagentLagGrowing",            // agent lag growing for 10m
		"LogagentSendErrors",            // agent send errors
		"LogagentPipelineStalled",       // lines read but none sent for 5m
		"LogtransferDown",               // transfer down
		"LogtransferConsumerLagHigh",    // consumer lag above threshold
		"LogtransferConsumerLagGrowing", // consumer lag growing
		AlertIndexErrors,                // index errors
		"LogtransferDLQReceiving",       // DLQ receiving
		AlertTransferStalled,            // lag > 0 and nothing indexed for 5m
		AlertElasticsearchUnreachable,
		"SysmonInfluxWriteFailing", // sysmon cannot write to InfluxDB
		"HostStoppedReporting",     // a host stopped reporting
	} {
		require.Contains(t, byName, want)
	}
	require.Equal(t, "10m", byName["LogagentLagGrowing"].For)
	require.Equal(t, "5m", byName["LogagentPipelineStalled"].For)
	require.Equal(t, "5m", byName[AlertTransferStalled].For)
}

// upJob matches the job of an `up{job="..."}` selector.
var upJob = regexp.MustCompile(`up\{job="([^"]+)"\}`)

// TestAlertJobs: the rules use only the three scrape job names, and the
// header of alerts.yml lists them (deploy/prometheus/prometheus.yml must use
// the same names).
func TestAlertJobs(t *testing.T) {
	data, err := Files.ReadFile(AlertsFile)
	require.NoError(t, err)
	header, _, ok := strings.Cut(string(data), "\ngroups:")
	require.True(t, ok)
	var jobs []string
	for _, m := range upJob.FindAllStringSubmatch(string(data), -1) {
		jobs = append(jobs, m[1])
	}
	slices.Sort(jobs)
	require.Equal(t, []string{"logagent", "logtransfer", "sysmon"}, slices.Compact(jobs))
	for _, j := range ScrapeJobs {
		require.Contains(t, header, `job="`+j+`"`, "the header of alerts.yml must name job %s", j)
	}
}

func TestParseAlertRules(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    []AlertRule
		wantErr string
	}{
		{
			name: "alerting and recording rules",
			yaml: "groups:\n- name: g\n  rules:\n  - record: r\n    expr: sum(x)\n  - alert: A\n    expr: x > 0\n    for: 1m\n    labels: {severity: warning}\n    annotations: {summary: s}\n",
			want: []AlertRule{{Group: "g", Alert: "A", Expr: "x > 0", For: "1m", Labels: map[string]string{"severity": "warning"}, Annotations: map[string]string{"summary": "s"}}},
		},
		{
			name:    "unknown key",
			yaml:    "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    fro: 1m\n",
			wantErr: "field fro not found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAlertRules([]byte(tt.yaml))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestDashboardQueriesAcceptedByPromtool: every pipeline dashboard query,
// expanded as Grafana would, parses in the Prometheus that CI installs
// (Debian's 2.42), not only in the newer parser the Go tests link. The
// queries are written as recording rules into a temporary rule file, which
// `promtool check rules` parses with Prometheus's own code.
func TestDashboardQueriesAcceptedByPromtool(t *testing.T) {
	testenv.PromtoolBinary(t)
	data, err := Files.ReadFile(PipelineFile)
	require.NoError(t, err)
	qs, err := Queries(data)
	require.NoError(t, err)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for i, q := range qs {
		expr, err := q.Expand(PipelineVars)
		require.NoError(t, err)
		rules = append(rules, rule{Record: "dashboard:query_" + strconv.Itoa(i), Expr: expr})
	}
	file := map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}}
	out, err := yaml.Marshal(file)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	require.NoError(t, os.WriteFile(path, out, 0o644))
	res, err := runPromtool(t, ".", "check", "rules", path)
	require.NoError(t, err, res)
	require.Contains(t, res, "SUCCESS: "+strconv.Itoa(len(rules))+" rules found")
}
