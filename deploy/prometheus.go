package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// PrometheusOverrides changes what a test must change in prometheus.yml to
// point a real Prometheus at binaries it started itself.
type PrometheusOverrides struct {
	// Targets replaces the static targets of each scrape job, by job name
	// (logagent, logtransfer, sysmon). Every job of the file must be given,
	// and only those.
	Targets map[string][]string
	// ScrapeInterval and EvaluationInterval replace the global intervals
	// when not zero (a test wants seconds, not the production 15s); a
	// scrape_timeout above the new interval is lowered to it.
	ScrapeInterval, EvaluationInterval time.Duration
}

// PrometheusConfig returns the Prometheus config at path (normally
// deploy/prometheus/prometheus.yml) with o applied and its rule_files made
// absolute, resolved against the file's directory as Prometheus does, so the
// result can be written anywhere and still loads dashboards/prometheus's
// alert rules. Everything else (job names, timeouts) is kept.
func PrometheusConfig(path string, o PrometheusOverrides) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", path)
	}
	root := doc.Content[0]

	if o.ScrapeInterval > 0 || o.EvaluationInterval > 0 {
		global := mappingValue(root, "global", true)
		if o.ScrapeInterval > 0 {
			setScalar(global, "scrape_interval", promDuration(o.ScrapeInterval))
			// Prometheus refuses a scrape_timeout above the interval.
			if t := mappingValue(global, "scrape_timeout", false); t != nil {
				if d, err := time.ParseDuration(t.Value); err != nil || d > o.ScrapeInterval {
					t.Value = promDuration(o.ScrapeInterval)
				}
			}
		}
		if o.EvaluationInterval > 0 {
			setScalar(global, "evaluation_interval", promDuration(o.EvaluationInterval))
		}
	}
	if rules := mappingValue(root, "rule_files", false); rules != nil {
		for _, r := range rules.Content {
			if !filepath.IsAbs(r.Value) {
				r.Value = filepath.Join(dir, r.Value)
			}
		}
	}

	jobs := mappingValue(root, "scrape_configs", false)
	if jobs == nil {
		return nil, fmt.Errorf("%s: no scrape_configs", path)
	}
	var seen []string
	for _, job := range jobs.Content {
		name := mappingValue(job, "job_name", false)
		if name == nil {
			return nil, fmt.Errorf("%s: a scrape config without job_name", path)
		}
		targets, ok := o.Targets[name.Value]
		if !ok || len(targets) == 0 {
			return nil, fmt.Errorf("no targets given for job %s", name.Value)
		}
		seen = append(seen, name.Value)
		list := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, t := range targets {
			list.Content = append(list.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: t})
		}
		static := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "targets"}, list,
		}}
		setValue(job, "static_configs", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{static}})
	}
	var errs []error
	for job := range o.Targets {
		if !slices.Contains(seen, job) {
			errs = append(errs, fmt.Errorf("targets given for job %s, which %s does not have", job, path))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// mappingValue returns the value of key in the mapping node m; with create,
// an absent key is added with an empty mapping.
func mappingValue(m *yaml.Node, key string, create bool) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	if !create {
		return nil
	}
	v := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	return v
}

// setValue sets key to v in the mapping node m.
func setValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

func setScalar(m *yaml.Node, key, value string) {
	setValue(m, key, &yaml.Node{Kind: yaml.ScalarNode, Value: value})
}

// promDuration formats d in Prometheus's duration syntax (whole
// milliseconds at most: 1s, 500ms).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}
