package chaos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// esProxy is a fault-injecting reverse proxy between logtransfer and Elasticsearch. Switched
// off it passes everything through. Switched on, it answers bulk requests as an Elasticsearch
// under pressure (or a load balancer in front of a missing one) does, in turn:
//
//   - 429 with es_rejected_execution_exception (the write thread pool's queue is full);
//   - 503 with cluster_block_exception (no master);
//   - 503 as plain HTML, as a load balancer without a backend answers;
//   - 200 whose items are half 429 es_rejected_execution_exception: those documents are taken
//     out of the request before it goes on to Elasticsearch, so they are really not indexed;
//     the other half is indexed;
//   - 429 again.
//
// Other requests (health checks, template) always pass through.
type esProxy struct {
	srv    *httptest.Server
	target *url.URL
	rp     *httputil.ReverseProxy
	client *http.Client

	on sync.RWMutex // held for reading by a request answered while on; see set
	// faulting is read under on.
	faulting bool

	n         atomic.Int64 // bulk requests answered with a fault
	byKind    [numFaultKinds]atomic.Int64
	itemsKept atomic.Int64 // items of partial answers passed on to Elasticsearch
	items429  atomic.Int64 // items answered 429 inside a 200
}

type faultKind int

const (
	fault429 faultKind = iota
	fault503Block
	fault503LB
	faultPartial
	numFaultKinds
)

var faultNames = [numFaultKinds]string{"429 es_rejected_execution_exception", "503 cluster_block_exception", "503 from a load balancer (HTML)", "200 with half the items 429"}

// cycle is the order of the answers while on.
var cycle = []faultKind{fault429, fault503Block, fault503LB, faultPartial, fault429}

func startESProxy(t *testing.T, esURL string) *esProxy {
	u, err := url.Parse(esURL)
	require.NoError(t, err)
	x := &esProxy{target: u, rp: httputil.NewSingleHostReverseProxy(u), client: &http.Client{}}
	x.srv = httptest.NewServer(x)
	t.Cleanup(x.srv.Close)
	return x
}

func (x *esProxy) URL() string { return x.srv.URL }

// set switches the faults on or off. Switching off waits for the requests being answered
// with a fault.
func (x *esProxy) set(on bool) {
	x.on.Lock()
	x.faulting = on
	x.on.Unlock()
}

func isBulk(r *http.Request) bool {
	return (r.Method == http.MethodPost || r.Method == http.MethodPut) && strings.HasSuffix(r.URL.Path, "/_bulk")
}

func (x *esProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x.on.RLock()
	faulting := x.faulting
	if !faulting || !isBulk(r) {
		x.on.RUnlock()
		x.rp.ServeHTTP(w, r)
		return
	}
	defer x.on.RUnlock()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := x.n.Add(1)
	kind := cycle[(n-1)%int64(len(cycle))]
	x.byKind[kind].Add(1)
	switch kind {
	case fault429:
		writeJSON(w, http.StatusTooManyRequests, esError(http.StatusTooManyRequests, "es_rejected_execution_exception",
			"rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, replica_bytes=0, all_bytes=104857600, coordinating_operation_bytes=4096, max_coordinating_and_primary_bytes=104857600] (chaos proxy)"))
	case fault503Block:
		writeJSON(w, http.StatusServiceUnavailable, esError(http.StatusServiceUnavailable, "cluster_block_exception",
			"blocked by: [SERVICE_UNAVAILABLE/2/no master]; (chaos proxy)"))
	case fault503LB:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>\n")
	case faultPartial:
		x.partial(w, r, body)
	}
}

func esError(status int, typ, reason string) map[string]any {
	cause := map[string]any{"type": typ, "reason": reason}
	return map[string]any{"error": map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason}, "status": status}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// bulkItem is one operation of a bulk request: its action line, its source line (none for a
// delete), and what the answer names it by.
type bulkItem struct {
	op, index, id string
	lines         [][]byte
}

func parseBulk(body []byte) ([]bulkItem, error) {
	var items []bulkItem
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		action := bytes.TrimSpace(sc.Bytes())
		if len(action) == 0 {
			continue
		}
		var m map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(action, &m); err != nil || len(m) != 1 {
			return nil, fmt.Errorf("bulk action line %q: %v", action, err)
		}
		it := bulkItem{lines: [][]byte{bytes.Clone(sc.Bytes())}}
		for op, meta := range m {
			it.op, it.index, it.id = op, meta.Index, meta.ID
		}
		if it.op != "delete" {
			if !sc.Scan() {
				return nil, fmt.Errorf("bulk %s without a source line", it.op)
			}
			it.lines = append(it.lines, bytes.Clone(sc.Bytes()))
		}
		items = append(items, it)
	}
	return items, sc.Err()
}

// partial rejects every other item with an item-level 429 and sends the rest on to
// Elasticsearch, then merges the answers in the request's order.
func (x *esProxy) partial(w http.ResponseWriter, r *http.Request, body []byte) {
	items, err := parseBulk(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, esError(http.StatusBadRequest, "parse_exception", err.Error()))
		return
	}
	var keep bytes.Buffer
	rejected := make([]bool, len(items))
	kept := 0
	for i, it := range items {
		if i%2 == 0 {
			rejected[i] = true
			continue
		}
		kept++
		for _, l := range it.lines {
			keep.Write(l)
			keep.WriteByte('\n')
		}
	}
	x.items429.Add(int64(len(items) - kept))
	x.itemsKept.Add(int64(kept))
	var upstream struct {
		Items []json.RawMessage `json:"items"`
	}
	if kept > 0 {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, x.target.String()+r.URL.RequestURI(), &keep)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		req.Header.Del("Content-Length")
		resp, err := x.client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if resp.StatusCode != http.StatusOK { // Elasticsearch's own failure: pass it on
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			w.Write(data)
			return
		}
		if err := json.Unmarshal(data, &upstream); err != nil || len(upstream.Items) != kept {
			http.Error(w, fmt.Sprintf("chaos proxy: bulk answer with %d items for %d (%v)", len(upstream.Items), kept, err), http.StatusBadGateway)
			return
		}
	}
	out := make([]json.RawMessage, len(items))
	j := 0
	for i, it := range items {
		if !rejected[i] {
			out[i] = upstream.Items[j]
			j++
			continue
		}
		b, _ := json.Marshal(map[string]any{it.op: map[string]any{
			"_index": it.index, "_type": "_doc", "_id": it.id, "status": http.StatusTooManyRequests,
			"error": map[string]any{"type": "es_rejected_execution_exception",
				"reason": "rejected execution of primary operation [shard_detail=[" + it.index + "][0]] (chaos proxy)"},
		}})
		out[i] = b
	}
	writeJSON(w, http.StatusOK, map[string]any{"took": 1, "errors": true, "items": out})
}

// summary describes what the proxy answered.
func (x *esProxy) summary() string {
	var parts []string
	for k := range numFaultKinds {
		parts = append(parts, faultNames[k]+": "+strconv.FormatInt(x.byKind[k].Load(), 10))
	}
	return fmt.Sprintf("%d bulk requests answered with a fault (%s); in the partial answers %d items 429, %d passed on",
		x.n.Load(), strings.Join(parts, ", "), x.items429.Load(), x.itemsKept.Load())
}
