package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/olivere/elastic/v7"
)

// installTemplate puts the index template unless it exists and
// template.overwrite is off. Where the engine has composable templates
// (_index_template: Elasticsearch 7.8 and later, OpenSearch) it puts one,
// with template.priority, and deletes a legacy template of the same name (an
// earlier logtransfer's): composable templates win over legacy ones, so the
// legacy one would only linger. Elsewhere it puts a legacy template
// (_template).
//
// Why composable: Elasticsearch 8 ignores legacy templates for any index a
// composable template matches, and it has built-in composable ones (logs-*-*,
// metrics-*-*, synthetics-*-*, priority 100, data streams); a legacy template
// would lose to them.
func (t *Transfer) installTemplate(ctx context.Context, es *elastic.Client) error {
	tc := t.cfg.Template
	composable, engine, err := hasComposableTemplates(ctx, es)
	if err != nil {
		return err
	}
	if !composable {
		return t.installLegacyTemplate(ctx, es, engine)
	}
	if !tc.Overwrite {
		_, err := es.IndexGetIndexTemplate(tc.Name).Do(ctx)
		if err == nil {
			t.log.Info("index template exists; leaving it (template.overwrite is off)", "template", tc.Name, "engine", engine)
			return nil
		}
		if !elastic.IsNotFound(err) {
			return fmt.Errorf("check index template %q: %w", tc.Name, err)
		}
	}
	body := map[string]any{
		"index_patterns": tc.IndexPatterns,
		"priority":       tc.Priority,
		"template":       map[string]any{"settings": templateSettings(tc), "mappings": templateMappings()},
		"_meta":          map[string]any{"managed_by": "logtransfer"},
	}
	if _, err := es.IndexPutIndexTemplate(tc.Name).BodyJson(body).Do(ctx); err != nil {
		return fmt.Errorf("put index template %q: %w", tc.Name, err)
	}
	t.log.Info("index template installed", "template", tc.Name, "index_patterns", tc.IndexPatterns, "priority", tc.Priority, "engine", engine)
	// The upgrade from a logtransfer that installed a legacy template.
	if _, err := es.IndexDeleteTemplate(tc.Name).Do(ctx); err == nil {
		t.log.Info("legacy index template of the same name deleted: the composable one replaces it", "template", tc.Name)
	} else if !elastic.IsNotFound(err) {
		return fmt.Errorf("delete legacy index template %q: %w", tc.Name, err)
	}
	return nil
}

// installLegacyTemplate puts the legacy (_template) index template unless it
// exists and template.overwrite is off: for engines without composable
// templates (Elasticsearch before 7.8).
func (t *Transfer) installLegacyTemplate(ctx context.Context, es *elastic.Client, engine string) error {
	tc := t.cfg.Template
	if !tc.Overwrite {
		ok, err := es.IndexTemplateExists(tc.Name).Do(ctx)
		if err != nil {
			return fmt.Errorf("check legacy index template %q: %w", tc.Name, err)
		}
		if ok {
			t.log.Info("legacy index template exists; leaving it (template.overwrite is off)", "template", tc.Name, "engine", engine)
			return nil
		}
	}
	body := map[string]any{
		"index_patterns": tc.IndexPatterns,
		"settings":       templateSettings(tc),
		"mappings":       templateMappings(),
	}
	if _, err := es.IndexPutTemplate(tc.Name).BodyJson(body).Do(ctx); err != nil {
		return fmt.Errorf("put legacy index template %q: %w", tc.Name, err)
	}
	t.log.Info("legacy index template installed", "template", tc.Name, "index_patterns", tc.IndexPatterns, "engine", engine)
	return nil
}

// hasComposableTemplates asks the engine (GET /) for its name and version,
// e.g. "elasticsearch 7.17.29" or "opensearch 2.19.6", and reports whether it
// has composable index templates: every OpenSearch, Elasticsearch from 7.8.
func hasComposableTemplates(ctx context.Context, es *elastic.Client) (bool, string, error) {
	resp, err := es.PerformRequest(ctx, elastic.PerformRequestOptions{Method: http.MethodGet, Path: "/"})
	if err != nil {
		return false, "", fmt.Errorf("read the engine's version: %w", err)
	}
	var root struct {
		Version struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"` // "opensearch" there, absent in Elasticsearch
		} `json:"version"`
	}
	if err := json.Unmarshal(resp.Body, &root); err != nil {
		return false, "", fmt.Errorf("read the engine's version: %w", err)
	}
	name, v := root.Version.Distribution, root.Version.Number
	if name == "" {
		name = "elasticsearch"
	}
	engine := name + " " + v
	if name == "opensearch" {
		return true, engine, nil
	}
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	maj, err1 := strconv.Atoi(major)
	mnr, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return false, "", fmt.Errorf("read the engine's version: unexpected version %q", v)
	}
	return maj > 7 || maj == 7 && mnr >= 8, engine, nil
}

// templateSettings are the settings of new indices.
func templateSettings(tc TemplateConfig) map[string]any {
	return map[string]any{
		"number_of_shards":   tc.Shards,
		"number_of_replicas": *tc.Replicas,
	}
}

// templateMappings are the index template's mappings. Besides the agent's
// fields, they map the ECS fields the pipelines produce with their types, so that Kibana
// can range-filter and aggregate them (a status code is a number, a client
// address an ip); strings under log.syslog and kubernetes are keywords. Any
// other field is mapped dynamically. A document whose field does not fit
// its mapping is rejected by Elasticsearch and goes to the DLQ.
func templateMappings() map[string]any {
	kw := map[string]any{"type": "keyword"}
	long := map[string]any{"type": "long"}
	date := map[string]any{"type": "date"}
	obj := func(props map[string]any) map[string]any { return map[string]any{"properties": props} }
	// A keyword that may be long (a URL, a user agent), searchable as text
	// too; a term over 8191 characters is not indexed (Lucene's limit is
	// 32766 bytes).
	longKeyword := map[string]any{"type": "keyword", "ignore_above": 8191, "fields": map[string]any{"text": map[string]any{"type": "text"}}}
	keywordStrings := func(name, path string) map[string]any {
		return map[string]any{name: map[string]any{"path_match": path, "match_mapping_type": "string", "mapping": kw}}
	}
	return map[string]any{
		"dynamic_templates": []any{
			keywordStrings("log_syslog", "log.syslog.*"),
			keywordStrings("kubernetes", "kubernetes.*"),
		},
		"properties": map[string]any{
			"@timestamp": date,
			// Full-text search, and a keyword to aggregate short messages.
			"message": map[string]any{"type": "text", "fields": map[string]any{
				"keyword": map[string]any{"type": "keyword", "ignore_above": 1024},
			}},
			"tags":   kw,
			"stream": kw,
			"host":   obj(map[string]any{"name": kw, "ip": kw, "hostname": kw}),
			"log": obj(map[string]any{
				"file":   obj(map[string]any{"path": kw}),
				"offset": long,
				"level":  kw,
				"logger": kw,
			}),
			"kafka": obj(map[string]any{
				"topic":     kw,
				"partition": map[string]any{"type": "integer"},
				"offset":    long,
			}),
			"event": obj(map[string]any{
				"ingested": date,
				"created":  date,
				"dataset":  kw,
				// Kept to read, not searched: neither indexed nor aggregatable.
				"original": map[string]any{"type": "keyword", "index": false, "doc_values": false},
			}),
			"error": obj(map[string]any{"message": map[string]any{"type": "text"}}),
			"http": obj(map[string]any{
				"version": kw,
				"request": obj(map[string]any{"method": kw, "referrer": kw}),
				"response": obj(map[string]any{
					"status_code": long,
					"body":        obj(map[string]any{"bytes": long}),
				}),
			}),
			"url":        obj(map[string]any{"original": longKeyword}),
			"user_agent": obj(map[string]any{"original": longKeyword}),
			"source":     obj(map[string]any{"ip": map[string]any{"type": "ip"}, "address": kw, "port": long}),
			"user":       obj(map[string]any{"name": kw}),
			"process":    obj(map[string]any{"pid": long, "name": kw}),
			"container":  obj(map[string]any{"id": kw, "name": kw}),
		},
	}
}
