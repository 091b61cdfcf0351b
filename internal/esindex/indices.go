package esindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olivere/elastic/v7"
)

// Info is an index of a Template with what Elasticsearch says of it.
type Info struct {
	Index
	Docs    int64     `json:"docs"`    // documents, -1 when unknown
	Bytes   int64     `json:"bytes"`   // store size of the primaries and replicas, -1 when unknown
	Created time.Time `json:"created"` // creation time
	Status  string    `json:"status"`  // open
	Health  string    `json:"health"`  // green, yellow or red
}

// catRow is a row of _cat/indices?format=json: every value a string (null
// when unknown).
type catRow struct {
	Index        string  `json:"index"`
	Status       string  `json:"status"`
	Health       string  `json:"health"`
	DocsCount    *string `json:"docs.count"`
	StoreSize    *string `json:"store.size"`
	CreationDate *string `json:"creation.date"`
}

// List returns logtransfer's indices of t that Elasticsearch holds, oldest
// period first, then by name: open, not hidden, a name t makes (Match) and
// a mapping with FingerprintField. Indices the wildcard finds but t does
// not make (another tool's, another date format) or without the field are
// left out, and so are closed indices (their mappings cannot be read).
func List(ctx context.Context, es *elastic.Client, t *Template) ([]Info, error) {
	res, err := es.PerformRequest(ctx, elastic.PerformRequestOptions{
		Method: http.MethodGet,
		Path:   "/_cat/indices/" + t.Wildcard(),
		Params: url.Values{
			"format": {"json"}, "bytes": {"b"}, "expand_wildcards": {"open"},
			"h": {"index,status,health,docs.count,store.size,creation.date"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("list indices %s: %w", t.Wildcard(), err)
	}
	var rows []catRow
	if err := json.Unmarshal(res.Body, &rows); err != nil {
		return nil, fmt.Errorf("list indices %s: decode _cat/indices: %w", t.Wildcard(), err)
	}
	withField, err := hasField(ctx, es, t.Wildcard(), FingerprintField)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, r := range rows {
		idx, ok := t.Match(r.Index)
		if !ok || !withField[r.Index] {
			continue
		}
		info := Info{Index: idx, Docs: number(r.DocsCount), Bytes: number(r.StoreSize), Status: r.Status, Health: r.Health}
		if ms := number(r.CreationDate); ms >= 0 {
			info.Created = time.UnixMilli(ms).UTC()
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// FingerprintField is the field every document logtransfer indexes has
// (and its index template maps): an index without it in its mapping is
// not logtransfer's, whatever its name.
const FingerprintField = "kafka.topic"

// hasField returns the open indices of the wildcard whose mapping has the
// field.
func hasField(ctx context.Context, es *elastic.Client, wildcard, field string) (map[string]bool, error) {
	res, err := es.PerformRequest(ctx, elastic.PerformRequestOptions{
		Method: http.MethodGet,
		Path:   "/" + wildcard + "/_mapping/field/" + field,
		Params: url.Values{"ignore_unavailable": {"true"}, "allow_no_indices": {"true"}, "expand_wildcards": {"open"}},
	})
	if err != nil {
		return nil, fmt.Errorf("read the mappings of %s: %w", wildcard, err)
	}
	var m map[string]struct {
		Mappings map[string]json.RawMessage `json:"mappings"`
	}
	if err := json.Unmarshal(res.Body, &m); err != nil {
		return nil, fmt.Errorf("read the mappings of %s: decode: %w", wildcard, err)
	}
	out := make(map[string]bool, len(m))
	for name, v := range m {
		if _, ok := v.Mappings[field]; ok {
			out[name] = true
		}
	}
	return out, nil
}

// number is a _cat count, -1 when absent.
func number(s *string) int64 {
	if s == nil {
		return -1
	}
	n, err := strconv.ParseInt(*s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// Delete deletes the index by its exact name (never a wildcard: a name with
// * or , is refused). It reports false, without error, when the index does
// not exist: another instance deleted it first, which is what was wanted.
func Delete(ctx context.Context, es *elastic.Client, name string) (bool, error) {
	if name == "" || strings.ContainsAny(name, "*,?") || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
		return false, fmt.Errorf("delete index %q: not a single index name", name)
	}
	_, err := es.DeleteIndex(name).Do(ctx)
	if err == nil {
		return true, nil
	}
	var ee *elastic.Error
	if errors.As(err, &ee) && ee.Status == http.StatusNotFound {
		return false, nil
	}
	return false, fmt.Errorf("delete index %s: %w", name, err)
}

// Old returns the indices of infos that are older than maxAge at now (see
// Index.OlderThan), keeping their order.
func Old(infos []Info, maxAge time.Duration, now time.Time) []Info {
	var out []Info
	for _, i := range infos {
		if i.OlderThan(maxAge, now) {
			out = append(out, i)
		}
	}
	return out
}
