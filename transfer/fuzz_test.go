package transfer

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Any record value becomes one line of valid JSON, an object whose "kafka"
// field names the record.
func FuzzBuildDocument(f *testing.F) {
	for _, s := range []string{
		`{"@timestamp":"2026-05-06T07:08:09.123Z","message":"GET /","host":{"name":"h"}}`,
		"plain line", "", "{}", " { } ", "[1]", `{"kafka":1}`, "{\n\"a\":\n1}", "a\xffb", `{"a":"\u2028"}`,
	} {
		f.Add([]byte(s))
	}
	namer, err := parseIndexTemplate(defaultIndex)
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
	})
}
