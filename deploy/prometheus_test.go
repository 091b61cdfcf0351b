package deploy

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const prometheusConfig = "prometheus/prometheus.yml"

// promConfig is the part of prometheus.yml the tests read.
type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
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
	promtool := requireTool(t, "promtool")
	out, err := exec.Command(promtool, "check", "config", prometheusConfig).CombinedOutput()
	require.NoError(t, err, "%s", out)
	// promtool also checks every rule file the config loads.
	require.Regexp(t, `SUCCESS: [1-9][0-9]* rules found`, string(out))
}
