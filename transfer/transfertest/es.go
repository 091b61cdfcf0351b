// Package transfertest provides an in-memory Elasticsearch for tests of
// logtransfer: it serves the APIs logtransfer uses (ping, _index_template,
// _template, _bulk) and injects faults.
package transfertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// ES is an in-memory Elasticsearch 7.17 for the APIs logtransfer uses
// (ping, _index_template, _template, _bulk), with fault injection. Documents are kept by
// index and id, so a redelivery overwrites like in Elasticsearch.
type ES struct {
	srv *httptest.Server

	mu        sync.Mutex
	docs      map[string]json.RawMessage // index/id → source
	writes    int                        // index operations accepted, overwrites included
	templates map[string]json.RawMessage // composable, by name
	legacy    map[string]json.RawMessage // legacy (_template), by name
	version   string                     // GET /'s version object
	down      bool                       // every request gets 503
	status    int                        // when not 0, every request gets this status
	maxBody   int                        // when not 0, a bulk request with a larger body gets 413
	tooLarge  int                        // bulk requests answered 413
	// item, when set, decides an item's status and error type; status 0
	// means accept.
	item func(index, id string, doc []byte) (status int, errType string)
}

// NewES starts the server; it stops at the end of the test.
func NewES(t testing.TB) *ES {
	f := &ES{docs: make(map[string]json.RawMessage), templates: make(map[string]json.RawMessage), legacy: make(map[string]json.RawMessage),
		version: `{"number":"7.17.29"}`}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the server's base URL.
func (f *ES) URL() string { return f.srv.URL }

// SetVersion makes GET / report the engine's version number and
// distribution ("opensearch", or "" for Elasticsearch): 7.17.29 by default.
func (f *ES) SetVersion(number, distribution string) {
	v, _ := json.Marshal(map[string]string{"number": number, "distribution": distribution})
	f.mu.Lock()
	f.version = string(v)
	f.mu.Unlock()
}

// LegacyTemplate returns the body of an installed legacy index template, or
// nil.
func (f *ES) LegacyTemplate(name string) json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.legacy[name]
}

// Template returns the body of an installed composable index template, or
// nil.
func (f *ES) Template(name string) json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.templates[name]
}

// Docs returns a copy of the documents, by "index/id".
func (f *ES) Docs() map[string]json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]json.RawMessage, len(f.docs))
	for k, v := range f.docs {
		out[k] = v
	}
	return out
}

// SetDown makes every request fail with 503 (true) or not.
func (f *ES) SetDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// SetStatus makes every request fail with the HTTP status code (401, 403…)
// and an Elasticsearch-style error body; 0 serves normally again.
func (f *ES) SetStatus(code int) {
	f.mu.Lock()
	f.status = code
	f.mu.Unlock()
}

// SetMaxBody makes bulk requests whose body is over n bytes fail with 413
// Request Entity Too Large, as Elasticsearch does beyond
// http.max_content_length (without a JSON body); 0 removes the limit.
func (f *ES) SetMaxBody(n int) {
	f.mu.Lock()
	f.maxBody = n
	f.mu.Unlock()
}

// TooLarge is the number of bulk requests answered 413.
func (f *ES) TooLarge() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tooLarge
}

// SetItem sets the per-item fault injector: it returns an HTTP status
// (0: accept) and an error type for each document of a bulk request.
func (f *ES) SetItem(fn func(index, id string, doc []byte) (int, string)) {
	f.mu.Lock()
	f.item = fn
	f.mu.Unlock()
}

// Count is the number of documents (distinct index/id).
func (f *ES) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.docs)
}

// Doc returns the document stored under "index/id".
func (f *ES) Doc(key string) (json.RawMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.docs[key]
	return d, ok
}

// Writes is the number of index operations accepted, overwrites included.
func (f *ES) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

func (f *ES) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down, status := f.down, f.status
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":{"type":"unavailable","reason":"test outage"},"status":503}`)
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"error":{"type":"security_exception","reason":"injected status %d"},"status":%d}`, status, status)
		return
	}
	switch {
	case r.URL.Path == "/":
		f.mu.Lock()
		version := f.version
		f.mu.Unlock()
		_, _ = fmt.Fprintf(w, `{"name":"fake","version":%s,"tagline":"You Know, for Search"}`, version)
	case strings.HasPrefix(r.URL.Path, "/_index_template/"):
		f.template(w, r, f.templates, strings.TrimPrefix(r.URL.Path, "/_index_template/"))
	case strings.HasPrefix(r.URL.Path, "/_template/"):
		f.template(w, r, f.legacy, strings.TrimPrefix(r.URL.Path, "/_template/"))
	case r.URL.Path == "/_bulk" && r.Method == http.MethodPost:
		f.bulk(w, r)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"type":"not_found"},"status":404}`)
	}
}

// template serves one template of templates: HEAD, GET, PUT, DELETE.
func (f *ES) template(w http.ResponseWriter, r *http.Request, templates map[string]json.RawMessage, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, ok := templates[name]
	switch r.Method {
	case http.MethodHead, http.MethodGet, http.MethodDelete:
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"type":"resource_not_found_exception"},"status":404}`)
			return
		}
		if r.Method == http.MethodDelete {
			delete(templates, name)
			_, _ = io.WriteString(w, `{"acknowledged":true}`)
		} else {
			_, _ = fmt.Fprintf(w, `{"index_templates":[{"name":%q,"index_template":%s}]}`, name, body)
		}
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		templates[name] = body
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (f *ES) bulk(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	maxBody := f.maxBody
	f.mu.Unlock()
	if maxBody > 0 {
		body, err := io.ReadAll(io.LimitReader(r.Body, int64(maxBody)+1))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if len(body) > maxBody {
			f.mu.Lock()
			f.tooLarge++
			f.mu.Unlock()
			w.Header().Del("Content-Type")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	type itemResult struct {
		Index  string         `json:"_index"`
		ID     string         `json:"_id"`
		Status int            `json:"status"`
		Error  map[string]any `json:"error,omitempty"`
	}
	var items []map[string]itemResult
	errs := false
	f.mu.Lock()
	defer f.mu.Unlock()
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		a, ok := action["index"]
		if !ok || !sc.Scan() {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		doc := append(json.RawMessage(nil), sc.Bytes()...)
		res := itemResult{Index: a.Index, ID: a.ID, Status: 201}
		status, typ := 0, ""
		if f.item != nil {
			status, typ = f.item(a.Index, a.ID, doc)
		}
		if !json.Valid(doc) {
			status, typ = 400, "mapper_parsing_exception"
		}
		if status != 0 {
			res.Status = status
			res.Error = map[string]any{"type": typ, "reason": "injected " + typ}
			errs = true
		} else {
			f.docs[a.Index+"/"+a.ID] = doc
			f.writes++
		}
		items = append(items, map[string]itemResult{"index": res})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": errs, "items": items})
}
