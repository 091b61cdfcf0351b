package dashboards

import (
	"errors"
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Kind is the plugin id of a Grafana data source, the "type" of a data source
// reference in dashboard JSON.
type Kind string

// The data source kinds the dashboards use.
const (
	KindPrometheus Kind = "prometheus"
	KindInfluxDB   Kind = "influxdb"
)

// datasourceVar is the name of the data source template variable of both
// dashboards: every panel and target points at "${datasource}", so one
// dashboard works against whichever Prometheus/InfluxDB the user picks.
const datasourceVar = "datasource"

// dsRef is a reference to the data source chosen in $datasource.
func dsRef(kind Kind) common.DataSourceRef {
	t, uid := string(kind), "${"+datasourceVar+"}"
	return common.DataSourceRef{Type: &t, Uid: &uid}
}

// panelIDs hands out panel ids in layout order, so that links to a panel
// (viewPanel=N) stay stable as long as panels are only appended.
type panelIDs struct{ n uint32 }

func (p *panelIDs) next() uint32 { p.n++; return p.n }

// promTarget is a range query of a time series panel.
func promTarget(refID, expr, legend string) cog.Builder[variants.Dataquery] {
	return prometheus.NewDataqueryBuilder().
		Datasource(dsRef(KindPrometheus)).
		RefId(refID).
		Expr(expr).
		LegendFormat(legend).
		Range()
}

// promInstant is an instant query, for stat panels.
func promInstant(refID, expr, legend string) cog.Builder[variants.Dataquery] {
	return prometheus.NewDataqueryBuilder().
		Datasource(dsRef(KindPrometheus)).
		RefId(refID).
		Expr(expr).
		LegendFormat(legend).
		Instant()
}

// influxQLQuery is a raw InfluxQL target of Grafana's InfluxDB data source.
// The SDK (v0.0.22) has no InfluxDB query type; this one carries exactly the
// fields Grafana's InfluxDB plugin reads for a raw query.
type influxQLQuery struct {
	RefID        string                `json:"refId"`
	Datasource   *common.DataSourceRef `json:"datasource,omitempty"`
	Query        string                `json:"query"`
	RawQuery     bool                  `json:"rawQuery"`
	ResultFormat string                `json:"resultFormat"`
	Alias        string                `json:"alias,omitempty"`
}

var _ variants.Dataquery = influxQLQuery{}

func (influxQLQuery) ImplementsDataqueryVariant() {}

func (influxQLQuery) DataqueryType() string { return string(KindInfluxDB) }

func (q influxQLQuery) Equals(other variants.Dataquery) bool {
	o, ok := other.(influxQLQuery)
	return ok && reflect.DeepEqual(q, o)
}

func (q influxQLQuery) Validate() error {
	if q.RefID == "" || q.Query == "" {
		return errors.New("influxql query: refId and query are required")
	}
	return nil
}

// influxTarget is a raw InfluxQL time series query; alias names the series
// in the legend ($tag_host, $col, ... are Grafana's alias patterns).
type influxTarget influxQLQuery

func (t influxTarget) Build() (variants.Dataquery, error) {
	q := influxQLQuery(t)
	return q, q.Validate()
}

func influxQL(refID, query, alias string) cog.Builder[variants.Dataquery] {
	ds := dsRef(KindInfluxDB)
	return influxTarget{RefID: refID, Datasource: &ds, Query: query, RawQuery: true, ResultFormat: "time_series", Alias: alias}
}

// panel describes one panel: every panel must say what it shows, in which
// unit, and what a bad value means (the tests enforce a unit and a
// description).
type panel struct {
	title       string
	description string
	unit        string
	width       uint32 // of 24 columns
	targets     []cog.Builder[variants.Dataquery]
	kind        Kind
	min, max    *float64
	stacked     bool
	bars        bool // counts per interval rather than rates: draw as bars
}

func ptr[T any](v T) *T { return &v }

// timeseries builds a time series panel.
func (p panel) timeseries(id uint32) cog.Builder[dashboard.Panel] {
	b := timeseries.NewPanelBuilder().
		Id(id).
		Title(p.title).
		Description(p.description).
		Datasource(dsRef(p.kind)).
		Unit(p.unit).
		Span(p.width).
		Height(8).
		Targets(p.targets).
		FillOpacity(10).
		LineWidth(1).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
	if p.min != nil {
		b.Min(*p.min)
	}
	if p.max != nil {
		b.Max(*p.max)
	}
	if p.stacked {
		b.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).FillOpacity(40)
	}
	if p.bars {
		b.DrawStyle(common.GraphDrawStyleBars).FillOpacity(80)
	}
	return b
}

// stat builds a stat panel whose value turns red below okAt.
func (p panel) stat(id uint32, okAt float64) cog.Builder[dashboard.Panel] {
	return stat.NewPanelBuilder().
		Id(id).
		Title(p.title).
		Description(p.description).
		Datasource(dsRef(p.kind)).
		Unit(p.unit).
		Span(p.width).
		Height(5).
		Targets(p.targets).
		ColorMode(common.BigValueColorModeBackground).
		Orientation(common.VizOrientationAuto).
		GraphMode(common.BigValueGraphModeNone).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		Thresholds(dashboard.NewThresholdsConfigBuilder().
			Mode(dashboard.ThresholdsModeAbsolute).
			Steps([]dashboard.Threshold{
				{Value: nil, Color: "red"},
				{Value: ptr(okAt), Color: "green"},
			}))
}

// datasourceVariable is the $datasource picker.
func datasourceVariable(kind Kind, label string) cog.Builder[dashboard.VariableModel] {
	return dashboard.NewDatasourceVariableBuilder(datasourceVar).
		Label(label).
		Type(string(kind))
}

// allOption is the "All" current value of a multi-value variable.
func allOption() dashboard.VariableOption {
	return dashboard.VariableOption{
		Selected: ptr(true),
		Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
		Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
	}
}

// queryVariable is a multi-value variable filled by a data source query,
// "All" by default.
func queryVariable(kind Kind, name, label, query, allValue string) cog.Builder[dashboard.VariableModel] {
	b := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(dsRef(kind)).
		Query(dashboard.StringOrMap{String: &query}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		Current(allOption())
	if allValue != "" {
		b.AllValue(allValue)
	}
	return b
}
