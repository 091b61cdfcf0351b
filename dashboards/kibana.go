package dashboards

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The Kibana saved objects (kibana/logcollect.ndjson) are generated here too,
// because their interesting parts are JSON documents stored as strings inside
// JSON (searchSourceJSON, visState): written by hand they are unreadable and
// one stray quote breaks the import.
//
// They are written in the format of a Kibana 7.17 export (migrationVersion
// and coreMigrationVersion 7.x): Kibana 8's _import API migrates such
// objects forward, whereas an object claiming a newer version than the
// Kibana importing it is refused.

// Ids of the saved objects. Importing with overwrite=true replaces them.
const (
	KibanaDataViewID      = "logcollect-logs"
	KibanaSearchID        = "logcollect-log-search"
	KibanaVisualizationID = "logcollect-log-volume"
	// The web objects read the fields of the nginx pipeline (docs/pipelines.md):
	// they find nothing in topics no pipeline parses.
	KibanaWebSearchID           = "logcollect-web-requests"
	KibanaStatusVisualizationID = "logcollect-http-status"
)

// KibanaIndexPattern is the data view's title, the index pattern it searches.
// logtransfer writes to "{topic}-{yyyy.MM.dd}" by default (transfer.yaml
// `index`), so the log indices are "<topic>-20YY.MM.DD". "*-*" (the
// transfer's template pattern) would also match any other dashed index of
// the cluster; "*-20*" requires the date suffix of this century and so
// selects the daily log indices only. Hidden and system indices (".kibana",
// ".tasks", ...) are never matched by a leading wildcard. If you configure
// another `index`, change this pattern with it.
const KibanaIndexPattern = "*-20*"

// searchSourceIndexRef is the reference name Kibana uses for the data view of
// a search source.
const searchSourceIndexRef = "kibanaSavedObjectMeta.searchSourceJSON.index"

// SavedObject is one line of a Kibana saved objects NDJSON file.
type SavedObject struct {
	ID                   string            `json:"id"`
	Type                 string            `json:"type"`
	Attributes           json.RawMessage   `json:"attributes"`
	References           []Reference       `json:"references"`
	MigrationVersion     map[string]string `json:"migrationVersion,omitempty"`
	CoreMigrationVersion string            `json:"coreMigrationVersion,omitempty"`
}

// Reference is a saved object's reference to another one.
type Reference struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type kibanaMeta struct {
	SearchSourceJSON string `json:"searchSourceJSON"`
}

type searchSource struct {
	Query struct {
		Query    string `json:"query"`
		Language string `json:"language"`
	} `json:"query"`
	Filter       []json.RawMessage `json:"filter"`
	IndexRefName string            `json:"indexRefName"`
}

type dataViewAttrs struct {
	Title         string `json:"title"`
	Name          string `json:"name,omitempty"`
	TimeFieldName string `json:"timeFieldName"`
}

type searchAttrs struct {
	Title                 string      `json:"title"`
	Description           string      `json:"description"`
	Columns               []string    `json:"columns"`
	Sort                  [][2]string `json:"sort"`
	HideChart             bool        `json:"hideChart"`
	KibanaSavedObjectMeta kibanaMeta  `json:"kibanaSavedObjectMeta"`
}

type visAttrs struct {
	Title                 string     `json:"title"`
	Description           string     `json:"description"`
	VisState              string     `json:"visState"`
	UIStateJSON           string     `json:"uiStateJSON"`
	Version               int        `json:"version"`
	KibanaSavedObjectMeta kibanaMeta `json:"kibanaSavedObjectMeta"`
}

// visState is the legacy visualization definition stored in visState.
type visState struct {
	Title  string         `json:"title"`
	Type   string         `json:"type"`
	Params map[string]any `json:"params"`
	Aggs   []VisAgg       `json:"aggs"`
}

// VisAgg is one aggregation of a legacy visualization.
type VisAgg struct {
	ID      string         `json:"id"`
	Enabled bool           `json:"enabled"`
	Type    string         `json:"type"`   // count | date_histogram | terms
	Schema  string         `json:"schema"` // metric | segment | group
	Params  map[string]any `json:"params"`
}

func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only called on values built in this file
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// histogramParams are the params of a stacked bar chart over time whose
// value axis is titled axis.
func histogramParams(axis string) map[string]any {
	return map[string]any{
		"type":            "histogram",
		"addLegend":       true,
		"addTooltip":      true,
		"legendPosition":  "right",
		"times":           []any{},
		"addTimeMarker":   false,
		"thresholdLine":   map[string]any{"show": false, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
		"labels":          map[string]any{"show": false},
		"categoryAxes":    []any{map[string]any{"id": "CategoryAxis-1", "type": "category", "position": "bottom", "show": true, "scale": map[string]any{"type": "linear"}, "labels": map[string]any{"show": true, "filter": true, "truncate": 100}, "title": map[string]any{}}},
		"valueAxes":       []any{map[string]any{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value", "position": "left", "show": true, "scale": map[string]any{"type": "linear", "mode": "normal"}, "labels": map[string]any{"show": true, "rotate": 0, "filter": false, "truncate": 100}, "title": map[string]any{"text": axis}}},
		"seriesParams":    []any{map[string]any{"show": true, "type": "histogram", "mode": "stacked", "data": map[string]any{"label": axis, "id": "1"}, "valueAxis": "ValueAxis-1", "drawLinesBetweenPoints": true, "lineWidth": 2, "showCircles": true}},
		"grid":            map[string]any{"categoryLines": false},
		"detailedTooltip": true,
		"palette":         map[string]any{"type": "palette", "name": "default"},
		"isVislibVis":     true,
		"fittingFunction": "zero",
		"radiusRatio":     0,
	}
}

// countOverTime are the aggs of a document count (labelled label) per
// @timestamp interval.
func countOverTime(label string) []VisAgg {
	return []VisAgg{
		{ID: "1", Enabled: true, Type: "count", Schema: "metric", Params: map[string]any{"customLabel": label}},
		{ID: "2", Enabled: true, Type: "date_histogram", Schema: "segment", Params: map[string]any{
			"field": "@timestamp", "useNormalizedEsInterval": true, "scaleMetricValues": false,
			"interval": "auto", "drop_partials": false, "min_doc_count": 1, "extended_bounds": map[string]any{},
		}},
	}
}

// termsAgg splits the series by the top size values of field.
func termsAgg(id, field string, size int, label string) VisAgg {
	return VisAgg{ID: id, Enabled: true, Type: "terms", Schema: "group", Params: map[string]any{
		"field": field, "orderBy": "1", "order": "desc", "size": size,
		"otherBucket": true, "otherBucketLabel": "Other", "missingBucket": false, "missingBucketLabel": "Missing",
		"customLabel": label,
	}}
}

// visualization is the saved object of a legacy visualization over the data
// view, filtered by kql.
func visualization(id string, vis visState, description, kql string, dvRef []Reference) SavedObject {
	return SavedObject{
		ID:   id,
		Type: "visualization",
		Attributes: mustJSON(visAttrs{
			Title:                 vis.Title,
			Description:           description,
			VisState:              string(mustJSON(vis)),
			UIStateJSON:           "{}",
			Version:               1,
			KibanaSavedObjectMeta: kibanaMeta{SearchSourceJSON: searchSourceJSON(kql)},
		}),
		References:           dvRef,
		MigrationVersion:     map[string]string{"visualization": "7.14.0"},
		CoreMigrationVersion: "7.17.0",
	}
}

// search is the saved object of a saved search over the data view, newest
// first.
func search(id string, attrs searchAttrs, kql string, dvRef []Reference) SavedObject {
	attrs.Sort = [][2]string{{"@timestamp", "desc"}}
	attrs.KibanaSavedObjectMeta = kibanaMeta{SearchSourceJSON: searchSourceJSON(kql)}
	return SavedObject{
		ID:                   id,
		Type:                 "search",
		Attributes:           mustJSON(attrs),
		References:           dvRef,
		MigrationVersion:     map[string]string{"search": "7.9.3"},
		CoreMigrationVersion: "7.17.0",
	}
}

func searchSourceJSON(kql string) string {
	var s searchSource
	s.Query.Query, s.Query.Language = kql, "kuery"
	s.Filter = []json.RawMessage{}
	s.IndexRefName = searchSourceIndexRef
	return string(mustJSON(s))
}

// kibanaObjects are the saved objects, in dependency order (the data view
// first).
func kibanaObjects() []SavedObject {
	dvRef := []Reference{{ID: KibanaDataViewID, Name: searchSourceIndexRef, Type: "index-pattern"}}
	volume := visState{
		Title:  "logcollect: log volume by topic and host",
		Type:   "histogram",
		Params: histogramParams("Log lines"),
		Aggs: append(countOverTime("Log lines"),
			termsAgg("3", "kafka.topic", 10, "Topic"),
			termsAgg("4", "host.name", 20, "Host")),
	}
	status := visState{
		Title:  "logcollect: HTTP status codes over time",
		Type:   "histogram",
		Params: histogramParams("Requests"),
		Aggs:   append(countOverTime("Requests"), termsAgg("3", "http.response.status_code", 10, "Status code")),
	}
	return []SavedObject{
		{
			ID:   KibanaDataViewID,
			Type: "index-pattern",
			Attributes: mustJSON(dataViewAttrs{
				Title:         KibanaIndexPattern,
				Name:          "logcollect logs",
				TimeFieldName: "@timestamp",
			}),
			References:           []Reference{},
			MigrationVersion:     map[string]string{"index-pattern": "7.11.0"},
			CoreMigrationVersion: "7.17.0",
		},
		search(KibanaSearchID, searchAttrs{
			Title:       "logcollect: all logs",
			Description: "Every log line shipped by logagent, newest first, with the host and file it came from. Add a query (host.name : \"web-1\", kafka.topic : \"app_log\") to narrow it.",
			Columns:     []string{"host.name", "log.file.path", "message"},
		}, "", dvRef),
		search(KibanaWebSearchID, searchAttrs{
			Title:       "logcollect: web requests",
			Description: "Access log lines parsed by a pipeline (the nginx preset), newest first: client, method, URL, status and size. Add a query (http.response.status_code >= 500) to narrow it.",
			Columns:     []string{"source.ip", "http.request.method", "url.original", "http.response.status_code", "http.response.body.bytes"},
		}, "http.response.status_code : *", dvRef),
		visualization(KibanaVisualizationID, volume,
			"Log lines indexed over time, stacked by Kafka topic and host: a host or topic that stops logging, or floods, shows at a glance.", "", dvRef),
		visualization(KibanaStatusVisualizationID, status,
			"Access log requests over time, stacked by HTTP status code (the http.response.status_code a pipeline parsed): a burst of 5xx or 404 shows at a glance.",
			"http.response.status_code : *", dvRef),
	}
}

// kibanaNDJSON renders the saved objects, one JSON object per line.
func kibanaNDJSON() []byte {
	var buf bytes.Buffer
	for _, o := range kibanaObjects() {
		buf.Write(mustJSON(o))
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// Kibana is the content of a saved objects file, checked and decoded.
type Kibana struct {
	Objects        []SavedObject
	DataView       DataView
	Searches       []SavedSearch   // in file order
	Visualizations []Visualization // in file order
}

// Search returns the saved search with that id, or false.
func (k *Kibana) Search(id string) (SavedSearch, bool) {
	for _, s := range k.Searches {
		if s.ID == id {
			return s, true
		}
	}
	return SavedSearch{}, false
}

// Visualization returns the visualization with that id, or false.
func (k *Kibana) Visualization(id string) (Visualization, bool) {
	for _, v := range k.Visualizations {
		if v.ID == id {
			return v, true
		}
	}
	return Visualization{}, false
}

// DataView is the index pattern the search and visualization use.
type DataView struct {
	ID        string
	Title     string // the index pattern, e.g. "*-20*"
	TimeField string
}

// SavedSearch is the decoded saved search.
type SavedSearch struct {
	ID        string
	Title     string
	Index     string // the data view's title: the index pattern to search
	TimeField string
	Query     string // KQL
	Columns   []string
	Sort      [][2]string // [field, "asc"|"desc"]
}

// Visualization is a decoded visualization.
type Visualization struct {
	ID        string
	Title     string
	Index     string
	TimeField string
	Query     string // KQL
	Aggs      []VisAgg
}

// ParseKibana reads a saved objects NDJSON file and checks what Kibana's
// _import needs: each line is an object with an id unique in the file and a
// known type; each reference points at an object of the file with that type;
// a search source names its data view through a reference; and the required
// attributes are present (a data view's title and time field, a search's
// columns and sort, a visualization's parseable visState). It returns the
// data view, saved searches and visualizations decoded, or the first
// problem, naming the line.
func ParseKibana(ndjson []byte) (*Kibana, error) {
	k := &Kibana{}
	byID := map[string]SavedObject{}
	sc := bufio.NewScanner(bytes.NewReader(ndjson))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var o SavedObject
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if o.ID == "" {
			return nil, fmt.Errorf("line %d: no id", line)
		}
		if _, dup := byID[o.ID]; dup {
			return nil, fmt.Errorf("line %d: id %q appears twice", line, o.ID)
		}
		switch o.Type {
		case "index-pattern", "search", "visualization":
		default:
			return nil, fmt.Errorf("line %d (%s): unsupported type %q", line, o.ID, o.Type)
		}
		if len(o.Attributes) == 0 {
			return nil, fmt.Errorf("line %d (%s): no attributes", line, o.ID)
		}
		byID[o.ID] = o
		k.Objects = append(k.Objects, o)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, o := range k.Objects {
		for _, r := range o.References {
			target, ok := byID[r.ID]
			switch {
			case !ok:
				return nil, fmt.Errorf("%s %s: reference %q to %s %q, which is not in the file", o.Type, o.ID, r.Name, r.Type, r.ID)
			case target.Type != r.Type:
				return nil, fmt.Errorf("%s %s: reference %q says %q is a %s, but it is a %s", o.Type, o.ID, r.Name, r.ID, r.Type, target.Type)
			}
		}
	}
	dataViews := 0
	for _, o := range k.Objects {
		var err error
		switch o.Type {
		case "index-pattern":
			dataViews++
			k.DataView, err = decodeDataView(o)
		case "search":
			var s SavedSearch
			s, err = decodeSearch(o, byID)
			k.Searches = append(k.Searches, s)
		case "visualization":
			var v Visualization
			v, err = decodeVisualization(o, byID)
			k.Visualizations = append(k.Visualizations, v)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", o.Type, o.ID, err)
		}
	}
	if dataViews != 1 || len(k.Searches) == 0 || len(k.Visualizations) == 0 {
		return nil, fmt.Errorf("want one data view and at least one search and one visualization, have %d, %d and %d", dataViews, len(k.Searches), len(k.Visualizations))
	}
	return k, nil
}

// LoadKibana parses the embedded kibana/logcollect.ndjson.
func LoadKibana() (*Kibana, error) {
	data, err := Files.ReadFile(KibanaFile)
	if err != nil {
		return nil, err
	}
	return ParseKibana(data)
}

func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func decodeDataView(o SavedObject) (DataView, error) {
	var a dataViewAttrs
	if err := decodeStrict(o.Attributes, &a); err != nil {
		return DataView{}, err
	}
	if a.Title == "" || a.TimeFieldName == "" {
		return DataView{}, errors.New("a data view needs a title (its index pattern) and a timeFieldName")
	}
	return DataView{ID: o.ID, Title: a.Title, TimeField: a.TimeFieldName}, nil
}

// dataViewOf resolves a search source's data view reference.
func dataViewOf(o SavedObject, meta kibanaMeta, byID map[string]SavedObject) (DataView, searchSource, error) {
	var ss searchSource
	if err := decodeStrict([]byte(meta.SearchSourceJSON), &ss); err != nil {
		return DataView{}, ss, fmt.Errorf("searchSourceJSON: %w", err)
	}
	if ss.Query.Language != "kuery" && ss.Query.Language != "lucene" {
		return DataView{}, ss, fmt.Errorf("searchSourceJSON: query language %q", ss.Query.Language)
	}
	for _, r := range o.References {
		if r.Name == ss.IndexRefName && r.Type == "index-pattern" {
			dv, err := decodeDataView(byID[r.ID])
			return dv, ss, err
		}
	}
	return DataView{}, ss, fmt.Errorf("searchSourceJSON.indexRefName %q names no index-pattern reference", ss.IndexRefName)
}

func decodeSearch(o SavedObject, byID map[string]SavedObject) (SavedSearch, error) {
	var a searchAttrs
	if err := decodeStrict(o.Attributes, &a); err != nil {
		return SavedSearch{}, err
	}
	if a.Title == "" || len(a.Columns) == 0 || len(a.Sort) == 0 {
		return SavedSearch{}, errors.New("a saved search needs a title, columns and a sort")
	}
	for _, s := range a.Sort {
		if s[0] == "" || (s[1] != "asc" && s[1] != "desc") {
			return SavedSearch{}, fmt.Errorf("sort %q: want [field, asc|desc]", s)
		}
	}
	dv, ss, err := dataViewOf(o, a.KibanaSavedObjectMeta, byID)
	if err != nil {
		return SavedSearch{}, err
	}
	return SavedSearch{
		ID: o.ID, Title: a.Title, Index: dv.Title, TimeField: dv.TimeField,
		Query: ss.Query.Query, Columns: a.Columns, Sort: a.Sort,
	}, nil
}

func decodeVisualization(o SavedObject, byID map[string]SavedObject) (Visualization, error) {
	var a visAttrs
	if err := decodeStrict(o.Attributes, &a); err != nil {
		return Visualization{}, err
	}
	var vs visState
	if err := decodeStrict([]byte(a.VisState), &vs); err != nil {
		return Visualization{}, fmt.Errorf("visState: %w", err)
	}
	if vs.Title != a.Title {
		return Visualization{}, fmt.Errorf("visState title %q differs from the title %q", vs.Title, a.Title)
	}
	if vs.Type == "" || len(vs.Aggs) == 0 {
		return Visualization{}, errors.New("visState needs a type and aggs")
	}
	dv, ss, err := dataViewOf(o, a.KibanaSavedObjectMeta, byID)
	if err != nil {
		return Visualization{}, err
	}
	v := Visualization{ID: o.ID, Title: a.Title, Index: dv.Title, TimeField: dv.TimeField, Query: ss.Query.Query, Aggs: vs.Aggs}
	if _, err := v.SearchBody("1m"); err != nil {
		return Visualization{}, err
	}
	return v, nil
}

// ESQuery translates the saved search's KQL query into Elasticsearch query
// DSL. Only the forms this file uses are supported — the empty query (every
// document) and `field : *` (the field exists) — so a query Kibana would run
// differently is an error rather than a silently different check.
func (s SavedSearch) ESQuery() (map[string]any, error) {
	return kqlQuery("saved search "+s.ID, s.Query)
}

// kqlQuery is ESQuery for the KQL query kql of the object what.
func kqlQuery(what, kql string) (map[string]any, error) {
	q := strings.TrimSpace(kql)
	if q == "" {
		return map[string]any{"match_all": map[string]any{}}, nil
	}
	if field, val, ok := strings.Cut(q, ":"); ok && strings.TrimSpace(val) == "*" {
		if field = strings.TrimSpace(field); field != "" && !strings.ContainsAny(field, " ()\"") {
			return map[string]any{"exists": map[string]any{"field": field}}, nil
		}
	}
	return nil, fmt.Errorf("%s: KQL %q is not supported by ESQuery", what, kql)
}

// SearchBody is the body of the _search request Discover sends for the saved
// search (POST /<Index>/_search): its query, its sort, the columns as
// _source fields (plus the time field), and size hits.
func (s SavedSearch) SearchBody(size int) (map[string]any, error) {
	q, err := s.ESQuery()
	if err != nil {
		return nil, err
	}
	sort := make([]any, 0, len(s.Sort))
	for _, f := range s.Sort {
		sort = append(sort, map[string]any{f[0]: map[string]any{"order": f[1]}})
	}
	src := append([]string{s.TimeField}, s.Columns...)
	return map[string]any{"query": q, "sort": sort, "_source": src, "size": size}, nil
}

// SearchHits is what the checks of a saved search read of the answer to its
// SearchBody: each hit's _source.
type SearchHits struct {
	Hits struct {
		Hits []struct {
			Source map[string]any `json:"_source"`
		} `json:"hits"`
	} `json:"hits"`
}

// MissingColumn returns the first of the saved search's columns (dotted
// fields, host.name) that a hit's _source lacks, as Discover would show it
// empty, or "".
func (s SavedSearch) MissingColumn(source map[string]any) string {
	for _, col := range s.Columns {
		var cur any = source
		for p := range strings.SplitSeq(col, ".") {
			m, _ := cur.(map[string]any)
			cur = m[p]
		}
		if cur == nil {
			return col
		}
	}
	return ""
}

// SearchBody is the aggregation request the visualization sends
// (POST /<Index>/_search): each bucket aggregation nested in the previous
// one, in the order of the visState, with the date histogram at the given
// fixed interval (Kibana picks it from the time range: "auto"). The
// document count is every bucket's doc_count. Other metric or bucket types
// are an error.
func (v Visualization) SearchBody(interval string) (map[string]any, error) {
	root := map[string]any{"size": 0}
	if strings.TrimSpace(v.Query) != "" {
		q, err := kqlQuery("visualization "+v.ID, v.Query)
		if err != nil {
			return nil, err
		}
		root["query"] = q
	}
	parent := root
	for _, a := range v.Aggs {
		if !a.Enabled {
			continue
		}
		field, _ := a.Params["field"].(string)
		var agg map[string]any
		switch {
		case a.Schema == "metric" && a.Type == "count":
			continue
		case a.Type == "date_histogram":
			if field != v.TimeField {
				return nil, fmt.Errorf("visualization %s: date_histogram on %q, not the time field %q", v.ID, field, v.TimeField)
			}
			agg = map[string]any{"date_histogram": map[string]any{"field": field, "fixed_interval": interval, "min_doc_count": 1}}
		case a.Type == "terms":
			size, ok := a.Params["size"].(float64)
			if !ok {
				if n, isInt := a.Params["size"].(int); isInt {
					size, ok = float64(n), true
				}
			}
			if field == "" || !ok {
				return nil, fmt.Errorf("visualization %s: terms agg %s needs a field and a size", v.ID, a.ID)
			}
			agg = map[string]any{"terms": map[string]any{"field": field, "size": int(size), "order": map[string]any{"_count": "desc"}}}
		default:
			return nil, fmt.Errorf("visualization %s: unsupported agg %s %s/%s", v.ID, a.ID, a.Schema, a.Type)
		}
		aggs := map[string]any{a.ID: agg}
		parent["aggs"] = aggs
		parent = agg
	}
	if root["aggs"] == nil {
		return nil, fmt.Errorf("visualization %s: no bucket aggregation", v.ID)
	}
	return root, nil
}

// Fields returns the document fields the visualization aggregates on, in
// order.
func (v Visualization) Fields() []string {
	var out []string
	for _, a := range v.Aggs {
		if f, ok := a.Params["field"].(string); ok && a.Enabled {
			out = append(out, f)
		}
	}
	return out
}
