package deploy

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/logcollect/logcollect/internal/testenv"
)

const prometheusConfig = "prometheus/prometheus.yml"

// promConfig is the part of prometheus.yml the tests read.
type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		ScrapeTimeout      string `yaml:"scrape_timeout"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func loadPromConfig(t *testing.T) promConfig {
	t.Helper()
	data, err := os.ReadFile(prometheusConfig)
	require.NoError(t, err)
	var c promConfig
	require.NoError(t, yaml.Unmarshal(data, &c))
	return c
}

// promTargets maps each job to its static targets.
func promTargets(c promConfig) map[string][]string {
	jobs := map[string][]string{}
	for _, sc := range c.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			jobs[sc.JobName] = append(jobs[sc.JobName], s.Targets...)
		}
	}
	return jobs
}

// TestPrometheusJobs checks the job names the dashboards and alerts select
// on, and that each job scrapes its daemon's default metrics port.
func TestPrometheusJobs(t *testing.T) {
	c := loadPromConfig(t)
	jobs := promTargets(c)
	names := make([]string, 0, len(jobs))
	for name := range jobs {
		names = append(names, name)
	}
	slices.Sort(names)
	require.Equal(t, []string{"logagent", "logtransfer", "sysmon"}, names)
	for job, targets := range jobs {
		require.NotEmpty(t, targets, job)
		for _, target := range targets {
			_, port, err := net.SplitHostPort(target)
			require.NoError(t, err, target)
			require.Equal(t, strconv.Itoa(binaries[job].defaultPort), port, "job %s target %s", job, target)
		}
	}
	require.NotEmpty(t, c.Global.ScrapeInterval)
	require.NotEmpty(t, c.Global.EvaluationInterval)
}

// TestPrometheusRuleFiles checks that the rule files resolve, relative to
// prometheus.yml as Prometheus resolves them, to the alert rules of
// dashboards/prometheus (not to its promtool test file).
func TestPrometheusRuleFiles(t *testing.T) {
	c := loadPromConfig(t)
	require.NotEmpty(t, c.RuleFiles)
	var resolved []string
	for _, rf := range c.RuleFiles {
		require.False(t, filepath.IsAbs(rf), "rule file %s: absolute paths break in the container", rf)
		matches, err := filepath.Glob(filepath.Join(filepath.Dir(prometheusConfig), rf))
		require.NoError(t, err)
		require.NotEmptyf(t, matches, "rule file %s matches nothing", rf)
		resolved = append(resolved, matches...)
	}
	require.Contains(t, resolved, filepath.Join("..", "dashboards", "prometheus", "alerts.yml"))
}

func TestPromtoolCheckConfig(t *testing.T) {
	promtool := testenv.PromtoolBinary(t)
	out, err := exec.Command(promtool, "check", "config", prometheusConfig).CombinedOutput()
	require.NoError(t, err, "%s", out)
	// promtool also checks every rule file the config loads.
	require.Regexp(t, `SUCCESS: [1-9][0-9]* rules found`, string(out))
}

// TestPrometheusConfigOverrides writes the rewritten config into another
// directory, as the live test does, and checks that promtool still loads it
// with the alert rules, and that the targets and intervals changed.
func TestPrometheusConfigOverrides(t *testing.T) {
	targets := map[string][]string{
		"logagent":    {"127.0.0.1:40101"},
		"logtransfer": {"127.0.0.1:40102", "127.0.0.1:40112"},
		"sysmon":      {"127.0.0.1:40103"},
	}
	data, err := PrometheusConfig(prometheusConfig, PrometheusOverrides{
		Targets: targets, ScrapeInterval: time.Second, EvaluationInterval: 500 * time.Millisecond,
	})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "prometheus.yml")
	require.NoError(t, os.WriteFile(file, data, 0o600))

	var c promConfig
	require.NoError(t, yaml.Unmarshal(data, &c))
	require.Equal(t, targets, promTargets(c))
	require.Equal(t, "1s", c.Global.ScrapeInterval)
	require.Equal(t, "1s", c.Global.ScrapeTimeout, "lowered to the interval")
	require.Equal(t, "500ms", c.Global.EvaluationInterval)
	for _, rf := range c.RuleFiles {
		require.True(t, filepath.IsAbs(rf), rf)
		_, err := os.Stat(rf)
		require.NoError(t, err)
	}

	t.Run("promtool check config", func(t *testing.T) {
		out, err := exec.Command(testenv.PromtoolBinary(t), "check", "config", file).CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Regexp(t, `SUCCESS: [1-9][0-9]* rules found`, string(out))
	})

	for name, o := range map[string]PrometheusOverrides{
		"a job without targets": {Targets: map[string][]string{"logagent": {"127.0.0.1:1"}}},
		"an unknown job":        {Targets: map[string][]string{"logagent": {"a:1"}, "logtransfer": {"b:2"}, "sysmon": {"c:3"}, "logagnet": {"d:4"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := PrometheusConfig(prometheusConfig, o)
			require.Error(t, err)
		})
	}
}
