package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// MetricUse is one metric named by a vector selector of a dashboard query,
// a dashboard variable query or an alert rule.
type MetricUse struct {
	Where  string   // "logcollect pipeline / Live agents / A", "alert LogagentDown", ...
	Metric string   // as written, e.g. logagent_produce_latency_seconds_bucket
	Labels []string // label names the selector matches on, __name__ excluded, sorted
}

// promQL parses with the default options: stable PromQL only, no
// experimental functions or syntax, since the rules and dashboards must run
// on a stock Prometheus (Debian's 2.42 in CI).
var promQL = parser.NewParser(parser.Options{})

// metricName is a valid Prometheus metric name (the whole string).
var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// selectorMetrics returns the metric names a selector's matchers select: the
// metric name, or each name of a `__name__=~"a|b"` alternation. A name
// regular expression that is not such a plain list cannot be checked and is
// an error.
func selectorMetrics(name string, matchers []*labels.Matcher) ([]string, []string, error) {
	var names, labelNames []string
	if name != "" {
		names = append(names, name)
	}
	for _, m := range matchers {
		if m.Name != labels.MetricName {
			labelNames = append(labelNames, m.Name)
			continue
		}
		switch m.Type {
		case labels.MatchEqual:
			if !slices.Contains(names, m.Value) {
				names = append(names, m.Value)
			}
		case labels.MatchRegexp:
			for _, alt := range strings.Split(m.Value, "|") {
				if !metricName.MatchString(alt) {
					return nil, nil, fmt.Errorf("__name__=~%q: only a |-list of plain metric names can be checked", m.Value)
				}
				names = append(names, alt)
			}
		default:
			return nil, nil, fmt.Errorf("__name__ matcher %s cannot be checked", m)
		}
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("selector %v names no metric", matchers)
	}
	slices.Sort(labelNames)
	return names, slices.Compact(labelNames), nil
}

// PromQLMetrics parses a PromQL expression with Prometheus's own parser and
// returns the metrics its vector and matrix selectors name. where labels the
// results. Template variables must be expanded first (Query.Expand).
func PromQLMetrics(where, expr string) ([]MetricUse, error) {
	e, err := promQL.ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	var uses []MetricUse
	var inspectErr error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok || inspectErr != nil {
			return nil
		}
		names, labelNames, err := selectorMetrics(vs.Name, vs.LabelMatchers)
		if err != nil {
			inspectErr = fmt.Errorf("%s: %w", where, err)
			return nil
		}
		for _, name := range names {
			uses = append(uses, MetricUse{Where: where, Metric: name, Labels: labelNames})
		}
		return nil
	})
	return uses, inspectErr
}

// labelValuesQuery is Grafana's Prometheus variable query
// label_values(<series selector>, <label>).
var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_]\w*)\)$`)

// variableMetrics returns the metrics of the Prometheus variable queries of a
// dashboard (label_values(selector, label)); the selector is parsed with
// the PromQL parser after $variables are expanded with vars.
func variableMetrics(dashboardJSON []byte, vars map[string]string) ([]MetricUse, error) {
	var d struct {
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name       string         `json:"name"`
				Type       string         `json:"type"`
				Query      any            `json:"query"`
				Datasource *rawDatasource `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(dashboardJSON, &d); err != nil {
		return nil, err
	}
	var uses []MetricUse
	for _, v := range d.Templating.List {
		if v.Type != "query" || v.Datasource == nil || Kind(v.Datasource.Type) != KindPrometheus {
			continue
		}
		where := fmt.Sprintf("%s / variable $%s", d.Title, v.Name)
		q, ok := v.Query.(string)
		if !ok {
			return nil, fmt.Errorf("%s: query is not a string", where)
		}
		m := labelValuesQuery.FindStringSubmatch(strings.TrimSpace(q))
		if m == nil {
			return nil, fmt.Errorf("%s: %q is not label_values(selector, label)", where, q)
		}
		sel, err := Query{Panel: where, Expr: m[1]}.Expand(vars)
		if err != nil {
			return nil, err
		}
		matchers, err := promQL.ParseMetricSelector(sel)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		names, labelNames, err := selectorMetrics("", matchers)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for _, name := range names {
			uses = append(uses, MetricUse{Where: where, Metric: name, Labels: labelNames})
		}
	}
	return uses, nil
}

// PipelineVars are values for the pipeline dashboard's variables that select
// everything (Grafana's "All"), for expanding its queries in checks.
var PipelineVars = map[string]string{"job": ".+", "instance": ".+", "topic": ".*"}

// UsedMetrics returns every metric named in the embedded pipeline dashboard
// (panel targets and variable queries) and alert rules, each with where it
// is used. A live test can check them against the names a real Prometheus
// scraped (/api/v1/label/__name__/values); the unit tests check them against
// the metrics the binaries register.
func UsedMetrics() ([]MetricUse, error) {
	data, err := Files.ReadFile(PipelineFile)
	if err != nil {
		return nil, err
	}
	qs, err := Queries(data)
	if err != nil {
		return nil, err
	}
	var uses []MetricUse
	for _, q := range qs {
		if q.Kind != KindPrometheus {
			return nil, fmt.Errorf("%s: not a Prometheus query", q)
		}
		expr, err := q.Expand(PipelineVars)
		if err != nil {
			return nil, err
		}
		u, err := PromQLMetrics(q.String(), expr)
		if err != nil {
			return nil, err
		}
		uses = append(uses, u...)
	}
	u, err := variableMetrics(data, PipelineVars)
	if err != nil {
		return nil, err
	}
	uses = append(uses, u...)
	rules, err := AlertRules()
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		u, err := PromQLMetrics("alert "+r.Alert, r.Expr)
		if err != nil {
			return nil, err
		}
		uses = append(uses, u...)
	}
	return uses, nil
}
