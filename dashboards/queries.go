package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Query is one target of a dashboard panel, as Grafana would send it to the
// data source before template variables are replaced.
type Query struct {
	Dashboard string // dashboard title
	Panel     string // panel title
	RefID     string // A, B, ... within the panel
	Kind      Kind   // KindPrometheus or KindInfluxDB
	Expr      string // the PromQL expression or InfluxQL query, with $variables
	Legend    string // legendFormat (Prometheus) or alias (InfluxDB)
	Instant   bool   // Prometheus instant query (stat panels) rather than a range query
}

// String names the query in test failures: dashboard / panel / refId.
func (q Query) String() string {
	return q.Dashboard + " / " + q.Panel + " / " + q.RefID
}

// rawDashboard is the part of Grafana's dashboard JSON that Queries reads.
type rawDashboard struct {
	Title  string     `json:"title"`
	Panels []rawPanel `json:"panels"`
}

type rawPanel struct {
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Datasource  *rawDatasource  `json:"datasource"`
	Targets     []rawTarget     `json:"targets"`
	Panels      []rawPanel      `json:"panels"` // a collapsed row's panels
	FieldConfig *rawFieldConfig `json:"fieldConfig"`
}

type rawFieldConfig struct {
	Defaults struct {
		Unit string `json:"unit"`
	} `json:"defaults"`
}

type rawDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type rawTarget struct {
	RefID        string         `json:"refId"`
	Datasource   *rawDatasource `json:"datasource"`
	Expr         string         `json:"expr"`
	LegendFormat string         `json:"legendFormat"`
	Instant      bool           `json:"instant"`
	Query        string         `json:"query"`
	RawQuery     bool           `json:"rawQuery"`
	Alias        string         `json:"alias"`
}

// Queries returns every target of every panel of a Grafana dashboard JSON
// (rows, collapsed or not, included), in layout order. A target's data
// source kind is its own datasource type, or else its panel's; a target of
// another kind, or an InfluxDB target that is not a raw InfluxQL query (the
// visual query builder's), is an error, since it could not be checked
// against a real server.
func Queries(dashboardJSON []byte) ([]Query, error) {
	var d rawDashboard
	if err := json.Unmarshal(dashboardJSON, &d); err != nil {
		return nil, fmt.Errorf("parse dashboard: %w", err)
	}
	var out []Query
	var walk func(panels []rawPanel) error
	walk = func(panels []rawPanel) error {
		for _, p := range panels {
			if err := walk(p.Panels); err != nil {
				return err
			}
			for _, t := range p.Targets {
				q, err := panelQuery(d.Title, p, t)
				if err != nil {
					return err
				}
				out = append(out, q)
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	return out, nil
}

func panelQuery(dashboard string, p rawPanel, t rawTarget) (Query, error) {
	q := Query{Dashboard: dashboard, Panel: p.Title, RefID: t.RefID}
	ds := t.Datasource
	if ds == nil {
		ds = p.Datasource
	}
	if ds == nil {
		return q, fmt.Errorf("%s: no data source on the target or its panel", q)
	}
	q.Kind = Kind(ds.Type)
	switch q.Kind {
	case KindPrometheus:
		q.Expr, q.Legend, q.Instant = t.Expr, t.LegendFormat, t.Instant
	case KindInfluxDB:
		if !t.RawQuery {
			return q, fmt.Errorf("%s: InfluxDB target is not a raw InfluxQL query", q)
		}
		q.Expr, q.Legend = t.Query, t.Alias
	default:
		return q, fmt.Errorf("%s: data source type %q is neither prometheus nor influxdb", q, ds.Type)
	}
	if strings.TrimSpace(q.Expr) == "" {
		return q, fmt.Errorf("%s: empty query", q)
	}
	return q, nil
}

// DefaultVars are the values Expand uses for Grafana's built-in variables
// when the caller gives none. They suit a Prometheus scraping every few
// seconds and a test that looks at the last hour:
//
//   - __interval, __rate_interval: the step and the rate() window. A real
//     Grafana computes them from the time range and panel width; the rate
//     window must span at least two scrapes (Grafana's $__rate_interval is at
//     least four scrape intervals).
//   - __range: the dashboard's time range (used in [$__range] windows).
//   - timeFilter: InfluxQL's time condition, which Grafana writes as
//     "time >= <from>ms and time <= <to>ms".
var DefaultVars = map[string]string{
	"__interval":         "1m",
	"__interval_ms":      "60000",
	"__rate_interval":    "1m",
	"__rate_interval_ms": "60000",
	"__range":            "1h",
	"__range_s":          "3600",
	"__range_ms":         "3600000",
	"timeFilter":         "time > now() - 1h",
}

// varRef matches the three syntaxes of a Grafana template variable
// reference: $name, ${name} or ${name:format}, and [[name]] or
// [[name:format]]. A "$" not followed by a name (the "$" of an InfluxQL
// regex anchor, /^web$/) is not a reference.
var varRef = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)`)

// Expand returns the query with every template variable replaced, as Grafana
// does before sending it, so that the result runs as is against a real
// Prometheus (/api/v1/query, /api/v1/query_range) or InfluxDB (/query).
//
// vars gives the dashboard variables by name without the "$": for the
// pipeline dashboard "job", "instance" and "topic"; for the hosts dashboard
// "host"; and for both "datasource" is never needed (it only selects the
// server). Values are inserted verbatim: the dashboards use every variable
// inside a regular-expression matcher (PromQL `job=~"$job"`, InfluxQL
// `"host" =~ /^$host$/`), so a value is a regular expression — ".+" or ".*"
// for Grafana's "All", "web-1" for one value, "(web-1|web-2)" for several —
// and must be valid inside a PromQL double-quoted string or an InfluxQL
// /regex/ respectively (no unescaped `"` or `/`).
//
// Grafana's built-in variables ($__interval, $__rate_interval, $__range,
// $timeFilter, ...) take their value from vars when present and from
// DefaultVars otherwise. A reference to a variable found in neither is an
// error, naming the variable, rather than a query that fails later on the
// server with a less helpful message.
func (q Query) Expand(vars map[string]string) (string, error) {
	var missing []string
	out := varRef.ReplaceAllStringFunc(q.Expr, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3] // exactly one group matched
		if v, ok := vars[name]; ok {
			return v
		}
		if v, ok := DefaultVars[name]; ok {
			return v
		}
		if !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return ref
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%s: no value for template variable(s) %s", q, strings.Join(missing, ", "))
	}
	return out, nil
}
