package transfer

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/esindex"
)

// Any record value becomes one line of valid JSON, an object whose "kafka"
// field names the record.
func FuzzBuildDocument(f *testing.F) {
	for _, s := range []string{
		`{"@timestamp":"2026-05-06T07:08:09.123Z","message":"GET /","host":{"name":"h"}}`,
		"plain line", "", "{}", " { } ", "[1]", `{"kafka":1}`, "{\n\"a\":\n1}", "a\xffb", `{"a":"\u2028"}`,
		`{"\u0040timestamp":"2026-05-06T07:08:09Z","Kafka":{"a":[1,"}"]},"b":"\"kafka\""}`,
		`{"@timestamp":"2026-05-06T07:08:09Z","@timestamp":"x","kafka":null}`, ` {"@timestamp" : "2026-05-06T07:08:09\u002e5Z" } `,
	} {
		f.Add([]byte(s))
	}
	namer, err := esindex.Parse(defaultIndex)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		r := &kgo.Record{Topic: "t", Partition: 1, Offset: 2, Timestamp: time.Unix(1e9, 0), Value: v}
		d := buildDocument(r, namer)
		if bytes.ContainsAny(d.body, "\r\n") {
			t.Fatalf("document has a line break: %q", d.body)
		}
		var doc struct {
			Kafka *struct {
				Topic     string
				Partition int32
				Offset    int64
			} `json:"kafka"`
		}
		if err := json.Unmarshal(d.body, &doc); err != nil {
			t.Fatalf("invalid JSON %q: %v", d.body, err)
		}
		if doc.Kafka == nil || doc.Kafka.Topic != "t" || doc.Kafka.Partition != 1 || doc.Kafka.Offset != 2 {
			t.Fatalf("kafka field wrong in %q", d.body)
		}
		if d.id != "t-1-2" || d.index == "" {
			t.Fatalf("id %q index %q", d.id, d.index)
		}
		// topLevel reads what encoding/json reads into a map: the last
		// "@timestamp" and "kafka" members, keys matched exactly.
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil || m == nil {
			return
		}
		want := r.Timestamp
		var s string
		if json.Unmarshal(m["@timestamp"], &s) == nil {
			if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
				want = ts
			}
		}
		if !d.ts.Equal(want) {
			t.Fatalf("timestamp %v, want %v, in %q", d.ts, want, v)
		}
		_, kafka := m["kafka"]
		if _, got := topLevel(bytes.TrimSpace(v)); got != kafka {
			t.Fatalf("topLevel found kafka %v, want %v, in %q", got, kafka, v)
		}
	})
}
