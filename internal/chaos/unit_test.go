package chaos

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestESProxy checks the fault injector itself against a fake Elasticsearch: the answers in
// turn while on, the partial answer's merge (rejected items never reach Elasticsearch), and
// passing through while off.
func TestESProxy(t *testing.T) {
	var got []string // bulk bodies that reached the fake
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/_bulk") {
			io.WriteString(w, `{"tagline":"You Know, for Search"}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
		items, err := parseBulk(b)
		require.NoError(t, err)
		var out []map[string]any
		for _, it := range items {
			out = append(out, map[string]any{it.op: map[string]any{"_index": it.index, "_id": it.id, "status": 201}})
		}
		writeJSON(w, http.StatusOK, map[string]any{"took": 1, "errors": false, "items": out})
	}))
	defer fake.Close()
	x := startESProxy(t, fake.URL)
	body := `{"index":{"_index":"i","_id":"a"}}
{"message":"a"}
{"index":{"_index":"i","_id":"b"}}
{"message":"b"}
{"index":{"_index":"i","_id":"c"}}
{"message":"c"}
`
	bulk := func() (int, string) {
		resp, err := http.Post(x.URL()+"/_bulk", "application/x-ndjson", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	status, _ := bulk()
	require.Equal(t, http.StatusOK, status)
	require.Len(t, got, 1, "passes through while off")

	x.set(true)
	resp, err := http.Get(x.URL() + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "not a bulk request: passes through")

	want := []int{429, 503, 503, 200, 429, 429}
	for i, w := range want {
		status, b := bulk()
		require.Equal(t, w, status, "answer %d: %s", i, b)
		if i == 1 {
			require.Contains(t, b, "cluster_block_exception")
		}
		if status == 200 {
			var r struct {
				Errors bool
				Items  []map[string]struct {
					ID     string `json:"_id"`
					Status int
					Error  *struct{ Type string }
				}
			}
			require.NoError(t, json.Unmarshal([]byte(b), &r))
			require.True(t, r.Errors)
			require.Len(t, r.Items, 3)
			for j, id := range []string{"a", "b", "c"} {
				it := r.Items[j]["index"]
				require.Equal(t, id, it.ID)
				if j%2 == 0 {
					require.Equal(t, 429, it.Status)
					require.Equal(t, "es_rejected_execution_exception", it.Error.Type)
				} else {
					require.Equal(t, 201, it.Status)
				}
			}
			require.Len(t, got, 2)
			require.Equal(t, "{\"index\":{\"_index\":\"i\",\"_id\":\"b\"}}\n{\"message\":\"b\"}\n", got[1], "only the items not rejected reach Elasticsearch")
		}
	}
	x.set(false)
	status, _ = bulk()
	require.Equal(t, http.StatusOK, status)
	require.Len(t, got, 3)
	require.Contains(t, x.summary(), "6 bulk requests answered with a fault")
}

// TestCheckOrderInodeReuse: a file created after a rotation may get the inode, so the record
// key, of the rotated file deleted just before; its lines are not out of order for that
// (seen in a 200k-line rotation run: "file 2 line 20000 after line 9999").
func TestCheckOrderInodeReuse(t *testing.T) {
	kr := &kafkaReader{recs: map[string][]kafkaRecord{}}
	w := &writer{}
	w.newFile[2] = []int{3, 6}
	for n, key := range []string{"1-5", "1-5", "1-5", "1-6", "1-6", "1-6", "1-5", "1-5", "1-5"} {
		kr.recs["t"] = append(kr.recs["t"], kafkaRecord{key: key, file: 2, n: n, offset: int64(n)})
	}
	// the old file's lines again after the new one's, as after a restart
	kr.recs["t"] = append(kr.recs["t"], kafkaRecord{key: "1-5", file: 2, n: 1, offset: 9})
	checkOrder(t, kr, w.generation)
}
