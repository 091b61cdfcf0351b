package dashboards

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// templateFields are the fields logtransfer's index template maps
// (transfer/bulk.go templateBody): keyword fields can be aggregated and
// sorted on, text fields (message) only shown and searched.
var templateFields = map[string]string{
	"@timestamp":      "date",
	"message":         "text",
	"host.name":       "keyword",
	"host.ip":         "keyword",
	"log.file.path":   "keyword",
	"log.offset":      "long",
	"kafka.topic":     "keyword",
	"kafka.partition": "integer",
	"kafka.offset":    "long",
	// ECS fields of the pipelines (docs/pipelines.md, Fields in Elasticsearch).
	"source.ip":                 "ip",
	"http.request.method":       "keyword",
	"url.original":              "keyword",
	"http.response.status_code": "long",
	"http.response.body.bytes":  "long",
}

func TestKibanaObjects(t *testing.T) {
	k, err := LoadKibana()
	require.NoError(t, err)

	require.Equal(t, DataView{ID: KibanaDataViewID, Title: KibanaIndexPattern, TimeField: "@timestamp"}, k.DataView)

	require.Len(t, k.Searches, 2)
	s, ok := k.Search(KibanaSearchID)
	require.True(t, ok)
	require.Equal(t, KibanaIndexPattern, s.Index)
	require.Equal(t, "@timestamp", s.TimeField)
	require.Equal(t, []string{"host.name", "log.file.path", "message"}, s.Columns)
	require.Equal(t, [][2]string{{"@timestamp", "desc"}}, s.Sort)
	for _, c := range s.Columns {
		require.Contains(t, templateFields, c, "column %s is not a field the transfer indexes", c)
	}

	web, ok := k.Search(KibanaWebSearchID)
	require.True(t, ok)
	require.Equal(t, "logcollect: web requests", web.Title)
	require.Equal(t, KibanaIndexPattern, web.Index)
	require.Equal(t, []string{"source.ip", "http.request.method", "url.original", "http.response.status_code", "http.response.body.bytes"}, web.Columns)
	require.Equal(t, "http.response.status_code : *", web.Query)
	require.Equal(t, [][2]string{{"@timestamp", "desc"}}, web.Sort)
	for _, c := range web.Columns {
		require.Contains(t, templateFields, c, "column %s is not a field the template maps", c)
	}

	require.Len(t, k.Visualizations, 2)
	v, ok := k.Visualization(KibanaVisualizationID)
	require.True(t, ok)
	require.Equal(t, KibanaIndexPattern, v.Index)
	require.Equal(t, []string{"@timestamp", "kafka.topic", "host.name"}, v.Fields())
	for _, f := range v.Fields()[1:] {
		require.Equal(t, "keyword", templateFields[f], "terms on %s needs a keyword field", f)
	}
	status, ok := k.Visualization(KibanaStatusVisualizationID)
	require.True(t, ok)
	require.Equal(t, "logcollect: HTTP status codes over time", status.Title)
	require.Equal(t, KibanaIndexPattern, status.Index)
	require.Equal(t, []string{"@timestamp", "http.response.status_code"}, status.Fields())
	require.Equal(t, "long", templateFields["http.response.status_code"], "terms on a status code needs a mapped number")

	// Every object, line by line: what Kibana's _import reads.
	lines := bytes.Split(bytes.TrimSuffix(mustRead(t, KibanaFile), []byte("\n")), []byte("\n"))
	require.Len(t, lines, 5)
	for i, line := range lines {
		var o map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(line, &o), "line %d", i+1)
		for _, key := range []string{"id", "type", "attributes", "references", "migrationVersion", "coreMigrationVersion"} {
			require.Contains(t, o, key, "line %d", i+1)
		}
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := Files.ReadFile(name)
	require.NoError(t, err)
	return data
}

// TestParseKibanaRejects: each kind of broken file is refused with a message
// that says what is wrong.
func TestParseKibanaRejects(t *testing.T) {
	good := string(mustRead(t, KibanaFile))
	lines := strings.Split(strings.TrimSuffix(good, "\n"), "\n")
	tests := []struct {
		name    string
		ndjson  string
		wantErr string
	}{
		{"not JSON", good + "{\n", "line 6"},
		{"duplicate id", good + lines[0] + "\n", `id "logcollect-logs" appears twice`},
		{"unknown type", strings.Replace(good, `"type":"visualization"`, `"type":"lens"`, 1), `unsupported type "lens"`},
		{"dangling reference", strings.Join(lines[1:], "\n") + "\n", `reference "kibanaSavedObjectMeta.searchSourceJSON.index" to index-pattern "logcollect-logs", which is not in the file`},
		{"reference of the wrong type", strings.Replace(good, `"name":"kibanaSavedObjectMeta.searchSourceJSON.index","type":"index-pattern"`, `"name":"kibanaSavedObjectMeta.searchSourceJSON.index","type":"search"`, 1), `is a search, but it is a index-pattern`},
		{"no time field", strings.Replace(good, `"timeFieldName":"@timestamp"`, `"timeFieldName":""`, 1), "timeFieldName"},
		{"index ref name not in references", strings.Replace(good, `"name":"kibanaSavedObjectMeta.searchSourceJSON.index"`, `"name":"other"`, 1), "names no index-pattern reference"},
		{"search without columns", strings.Replace(good, `"columns":["host.name","log.file.path","message"]`, `"columns":[]`, 1), "needs a title, columns and a sort"},
		{"bad sort direction", strings.Replace(good, `[["@timestamp","desc"]]`, `[["@timestamp","down"]]`, 1), "want [field, asc|desc]"},
		{"visState not JSON", strings.Replace(good, `"visState":"{`, `"visState":"{{`, 1), "visState"},
		{"visState title differs", strings.Replace(good, `"visState":"{\"title\":\"logcollect: log volume`, `"visState":"{\"title\":\"other`, 1), "visState title"},
		{"unknown attribute", strings.Replace(good, `"timeFieldName":"@timestamp"`, `"timeFieldName":"@timestamp","timefield":"x"`, 1), `unknown field "timefield"`},
		{"missing search", lines[0] + "\n" + lines[3] + "\n", "want one data view and at least one search and one visualization"},
		{"unsupported visualization query", strings.ReplaceAll(good, `http.response.status_code : *`, `http.response.status_code >= 500`), `visualization logcollect-http-status: KQL "http.response.status_code >= 500" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKibana([]byte(tt.ndjson))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestSavedSearchESQuery(t *testing.T) {
	tests := []struct {
		kql     string
		want    map[string]any
		wantErr bool
	}{
		{"", map[string]any{"match_all": map[string]any{}}, false},
		{"  ", map[string]any{"match_all": map[string]any{}}, false},
		{"message : *", map[string]any{"exists": map[string]any{"field": "message"}}, false},
		{"log.file.path:*", map[string]any{"exists": map[string]any{"field": "log.file.path"}}, false},
		{`host.name : "web-1"`, nil, true},
		{"a or b : *", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.kql, func(t *testing.T) {
			got, err := SavedSearch{ID: "s", Query: tt.kql}.ESQuery()
			if tt.wantErr {
				require.ErrorContains(t, err, "not supported")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestKibanaSearchBodies pins the requests the live test sends to
// Elasticsearch for the saved search and the visualization.
func TestKibanaSearchBodies(t *testing.T) {
	k, err := LoadKibana()
	require.NoError(t, err)
	s, _ := k.Search(KibanaSearchID)
	body, err := s.SearchBody(5)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"query": {"match_all": {}},
		"sort": [{"@timestamp": {"order": "desc"}}],
		"_source": ["@timestamp", "host.name", "log.file.path", "message"],
		"size": 5}`, string(mustJSON(body)))

	web, _ := k.Search(KibanaWebSearchID)
	body, err = web.SearchBody(5)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"query": {"exists": {"field": "http.response.status_code"}},
		"sort": [{"@timestamp": {"order": "desc"}}],
		"_source": ["@timestamp", "source.ip", "http.request.method", "url.original", "http.response.status_code", "http.response.body.bytes"],
		"size": 5}`, string(mustJSON(body)))

	status, _ := k.Visualization(KibanaStatusVisualizationID)
	agg, err := status.SearchBody("1m")
	require.NoError(t, err)
	require.JSONEq(t, `{"size": 0, "query": {"exists": {"field": "http.response.status_code"}}, "aggs": {"2": {
		"date_histogram": {"field": "@timestamp", "fixed_interval": "1m", "min_doc_count": 1},
		"aggs": {"3": {"terms": {"field": "http.response.status_code", "size": 10, "order": {"_count": "desc"}}}}}}}`,
		string(mustJSON(agg)))

	v, _ := k.Visualization(KibanaVisualizationID)
	agg, err = v.SearchBody("1m")
	require.NoError(t, err)
	require.JSONEq(t, `{"size": 0, "aggs": {"2": {
		"date_histogram": {"field": "@timestamp", "fixed_interval": "1m", "min_doc_count": 1},
		"aggs": {"3": {
			"terms": {"field": "kafka.topic", "size": 10, "order": {"_count": "desc"}},
			"aggs": {"4": {"terms": {"field": "host.name", "size": 20, "order": {"_count": "desc"}}}}}}}}}`,
		string(mustJSON(agg)))

	_, err = Visualization{ID: "v", TimeField: "@timestamp", Aggs: []VisAgg{{ID: "1", Enabled: true, Type: "avg", Schema: "metric"}}}.SearchBody("1m")
	require.ErrorContains(t, err, "unsupported agg 1 metric/avg")
	_, err = Visualization{ID: "v", TimeField: "@timestamp", Aggs: []VisAgg{{ID: "1", Enabled: true, Type: "count", Schema: "metric"}}}.SearchBody("1m")
	require.ErrorContains(t, err, "no bucket aggregation")
}

func TestMissingColumn(t *testing.T) {
	s := SavedSearch{Columns: []string{"host.name", "message"}}
	tests := []struct {
		name   string
		source map[string]any
		want   string
	}{
		{"all", map[string]any{"host": map[string]any{"name": "web-1"}, "message": "m"}, ""},
		{"nested missing", map[string]any{"host": map[string]any{"ip": "10.0.0.1"}, "message": "m"}, "host.name"},
		{"not an object", map[string]any{"host": "web-1", "message": "m"}, "host.name"},
		{"top-level missing", map[string]any{"host": map[string]any{"name": "web-1"}}, "message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.want, s.MissingColumn(tt.source)) })
	}
}
