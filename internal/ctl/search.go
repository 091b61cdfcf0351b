package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/olivere/elastic/v7"
)

// DefaultIndex is the index pattern searched: logtransfer's default index
// "{topic}-{yyyy.MM.dd}" with the date as a wildcard. {topic} is replaced by
// the lower-cased topic, or * for all topics.
const DefaultIndex = "{topic}-*"

// followPageSize is the page size of the follow polls.
const followPageSize = 500

// Query selects log documents.
type Query struct {
	Text  string        // simple_query_string on message, field:value terms on fields (see fieldTerms); empty matches all
	Topic string        // kafka.topic; empty: all
	Host  string        // host.name or host.ip; empty: all
	Since time.Duration // only documents with @timestamp within Since before the search (0: no limit)
	Limit int           // Search returns the newest Limit documents
	Index string        // index pattern with {topic}; DefaultIndex when empty
}

// Hit is one log document.
type Hit struct {
	Index     string          `json:"_index"`
	ID        string          `json:"_id"`
	Timestamp time.Time       `json:"@timestamp"`
	Source    json.RawMessage `json:"_source"`
	sortMS    int64           // @timestamp as sorted by Elasticsearch (epoch ms)
}

// Line is the hit as one line: timestamp, host, path, message.
func (h Hit) Line() string {
	var d struct {
		Message string `json:"message"`
		Host    struct {
			Name string `json:"name"`
			IP   string `json:"ip"`
		} `json:"host"`
		Log struct {
			File struct {
				Path string `json:"path"`
			} `json:"file"`
		} `json:"log"`
	}
	_ = json.Unmarshal(h.Source, &d) // a field of another type stays empty
	host := cmpOr(d.Host.Name, d.Host.IP, "-")
	path := cmpOr(d.Log.File.Path, "-")
	return h.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z") + " " + host + " " + path + " " + d.Message
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// key is a hit's position in the sort order (@timestamp, _id).
type key struct {
	ms int64
	id string
}

func (k key) less(o key) bool { return k.ms < o.ms || (k.ms == o.ms && k.id < o.id) }

func (h Hit) key() key { return key{h.sortMS, h.ID} }

// Searcher runs queries on the log indices.
type Searcher struct {
	es      *elastic.Client
	urls    []string
	timeout time.Duration
	page    int // page size of the follow polls
}

// NewSearcher returns a Searcher on es, whose urls appear in errors, with
// timeout for each request.
func NewSearcher(es *elastic.Client, urls []string, timeout time.Duration) *Searcher {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Searcher{es: es, urls: urls, timeout: timeout, page: followPageSize}
}

func (q Query) index() string {
	t := "*"
	if q.Topic != "" {
		t = strings.ToLower(q.Topic)
	}
	return strings.ReplaceAll(cmpOr(q.Index, DefaultIndex), "{topic}", t)
}

// filter is the query with @timestamp >= fromMS.
func (q Query) filter(fromMS int64) elastic.Query {
	b := elastic.NewBoolQuery()
	text, fields := fieldTerms(q.Text)
	if text != "" {
		b.Must(elastic.NewSimpleQueryStringQuery(text).Field("message").DefaultOperator("AND"))
	}
	for _, f := range fields {
		b.Filter(elastic.NewMatchQuery(f[0], f[1]).Operator("AND"))
	}
	if q.Topic != "" {
		b.Filter(elastic.NewTermQuery("kafka.topic", q.Topic))
	}
	if q.Host != "" {
		b.Filter(elastic.NewBoolQuery().Should(
			elastic.NewTermQuery("host.name", q.Host), elastic.NewTermQuery("host.ip", q.Host)).MinimumNumberShouldMatch(1))
	}
	if fromMS > 0 {
		b.Filter(elastic.NewRangeQuery("@timestamp").Gte(fromMS).Format("epoch_millis"))
	}
	return b
}

func (s *Searcher) search(ctx context.Context, q Query, fromMS int64, asc bool, size int, after *key) ([]Hit, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	svc := s.es.Search(q.index()).
		IgnoreUnavailable(true).AllowNoIndices(true).
		Query(q.filter(fromMS)).
		SortBy(elastic.NewFieldSort("@timestamp").Order(asc).UnmappedType("date"), elastic.NewFieldSort("_id").Order(asc)).
		Size(size).TrackTotalHits(false)
	if after != nil {
		svc = svc.SearchAfter(after.ms, after.id)
	}
	res, err := svc.Do(ctx)
	if err != nil {
		return nil, connError("elasticsearch", s.urls, "search "+q.index(), err)
	}
	hits := make([]Hit, 0, len(res.Hits.Hits))
	for _, h := range res.Hits.Hits {
		hit := Hit{Index: h.Index, ID: h.Id, Source: h.Source}
		if len(h.Sort) > 0 {
			if ms, ok := h.Sort[0].(float64); ok {
				hit.sortMS = int64(ms)
				hit.Timestamp = time.UnixMilli(hit.sortMS).UTC()
			}
		}
		hits = append(hits, hit)
	}
	return hits, nil
}

func (s *Searcher) sinceMS(q Query, now time.Time) int64 {
	if q.Since <= 0 {
		return 0
	}
	return now.Add(-q.Since).UnixMilli()
}

// Search returns the newest q.Limit documents matching q, oldest first.
func (s *Searcher) Search(ctx context.Context, q Query) ([]Hit, error) {
	hits, err := s.search(ctx, q, s.sinceMS(q, time.Now()), false, max(q.Limit, 1), nil)
	if err != nil {
		return nil, err
	}
	slices.Reverse(hits)
	return hits, nil
}

// FollowOptions tune Follow.
type FollowOptions struct {
	// Interval is the wait between polls.
	Interval time.Duration
	// Lookback is how long after its @timestamp a document may become
	// searchable and still be printed: each poll re-reads this window behind
	// the newest document seen. Documents later than that are missed. The
	// cost of a poll grows with the documents in the window.
	Lookback time.Duration
}

// Follow calls emit, in (@timestamp, _id) order within each poll, for every
// document matching q that becomes searchable after the search that
// returned shown (Search's result, which Follow continues), until ctx is
// done; it returns nil then. Each document is emitted once. When shown is
// a full page (q.Limit documents), documents sorted before its first one
// were left out on purpose and stay left out.
func (s *Searcher) Follow(ctx context.Context, q Query, shown []Hit, opt FollowOptions, emit func(Hit) error) error {
	if opt.Interval <= 0 || opt.Lookback < 0 {
		return fmt.Errorf("follow: interval %s must be positive and lookback %s not negative", opt.Interval, opt.Lookback)
	}
	start := time.Now()
	floor := key{ms: s.sinceMS(q, start)}
	if len(shown) >= q.Limit && len(shown) > 0 {
		floor = shown[0].key()
	}
	seen := make(map[string]int64, len(shown))
	newest := start.UnixMilli()
	for _, h := range shown {
		seen[h.ID] = h.sortMS
		newest = max(newest, h.sortMS)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opt.Interval):
		}
		from := max(floor.ms, newest-opt.Lookback.Milliseconds())
		var after *key
		for {
			page, err := s.search(ctx, q, from, true, s.page, after)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			for _, h := range page {
				if _, dup := seen[h.ID]; dup || h.key().less(floor) {
					continue
				}
				seen[h.ID] = h.sortMS
				newest = max(newest, h.sortMS)
				if err := emit(h); err != nil {
					return err
				}
			}
			if len(page) < s.page {
				break
			}
			last := page[len(page)-1].key()
			after = &last
		}
		// Ids older than the next window cannot come back.
		next := max(floor.ms, newest-opt.Lookback.Milliseconds())
		for id, ms := range seen {
			if ms < next {
				delete(seen, id)
			}
		}
	}
}

// WriteHits writes hits as lines, or as JSON objects one per line.
func WriteHits(w io.Writer, hits []Hit, asJSON bool) error {
	for _, h := range hits {
		if err := WriteHit(w, h, asJSON); err != nil {
			return err
		}
	}
	return nil
}

// WriteHit writes one hit as a line, or as a JSON object on one line.
func WriteHit(w io.Writer, h Hit, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("encode hit %s: %w", h.ID, err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(w, h.Line())
	return err
}

// fieldName is the field of a field:value term: a dotted name, as the ECS fields pipelines
// make (http.response.status_code, log.level), so that a word such as "error:" in a message
// stays a word of the message.
var fieldName = regexp.MustCompile(`^@?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$`)

// fieldTerms takes the field:value terms out of a search text, outside double quotes:
// "GET http.response.status_code:500" is the text "GET" and the field term
// {http.response.status_code, 500}. A value may be quoted ("log.level:\"warn\"").
func fieldTerms(text string) (rest string, fields [][2]string) {
	var words []string
	for len(text) > 0 {
		text = strings.TrimLeft(text, " \t")
		if text == "" {
			break
		}
		end := wordEnd(text)
		word := text[:end]
		text = text[end:]
		if name, value, ok := strings.Cut(word, ":"); ok && value != "" && fieldName.MatchString(name) {
			fields = append(fields, [2]string{name, strings.Trim(value, `"`)})
			continue
		}
		words = append(words, word)
	}
	return strings.Join(words, " "), fields
}

// wordEnd is the end of the first word of s: up to a space outside double quotes.
func wordEnd(s string) int {
	quoted := false
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case (r == ' ' || r == '\t') && !quoted:
			return i
		}
	}
	return len(s)
}
