package dashboards

//go:generate go run ./gen -out .

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Paths of the generated dashboards, relative to this package's directory.
const (
	PipelineFile = "grafana/logcollect-pipeline.json"
	HostsFile    = "grafana/hosts.json"
)

// GeneratedFile is one file the generator writes. The Prometheus rules are
// not generated: they are short, and reviewed as the YAML Prometheus loads.
type GeneratedFile struct {
	Path string // relative to the dashboards directory
	Data []byte
}

// Generate renders every generated file: the Grafana dashboards as JSON
// indented with two spaces and ending in a newline (so they diff well in
// review), and the Kibana saved objects as NDJSON.
func Generate() ([]GeneratedFile, error) {
	builds := []struct {
		path  string
		build func() (dashboard.Dashboard, error)
	}{
		{PipelineFile, Pipeline},
		{HostsFile, Hosts},
	}
	files := make([]GeneratedFile, 0, len(builds))
	for _, b := range builds {
		d, err := b.build()
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", b.path, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // keep "->" and "&&" readable in the JSON
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encode %s: %w", b.path, err)
		}
		files = append(files, GeneratedFile{Path: b.path, Data: buf.Bytes()})
	}
	files = append(files, GeneratedFile{Path: KibanaFile, Data: kibanaNDJSON()})
	return files, nil
}
