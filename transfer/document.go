package transfer

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/agent"
)

// document is one record turned into an Elasticsearch document.
type document struct {
	rec   *kgo.Record
	index string
	id    string    // see docID: a redelivery overwrites
	ts    time.Time // @timestamp, or the Kafka timestamp
	body  []byte    // one line of JSON
}

// maxIDBytes is Elasticsearch's limit on a document id.
const maxIDBytes = 512

// docID is the deterministic document id of a record: the event id the agent
// put in the agent.IDHeader header, which stays the same when the agent
// re-sends a line after a crash (the record then has a new Kafka offset), or
// else {topic}-{partition}-{offset}, which stays the same when Kafka
// redelivers a record. Either way a second delivery overwrites the document
// instead of adding one. A header value Elasticsearch would refuse as an id
// (empty, too long, not UTF-8) is ignored.
func docID(r *kgo.Record) string {
	for i := range r.Headers {
		h := &r.Headers[i]
		if h.Key == agent.IDHeader {
			if len(h.Value) > 0 && len(h.Value) <= maxIDBytes && utf8.Valid(h.Value) {
				return string(h.Value)
			}
			break
		}
	}
	return r.Topic + "-" + strconv.Itoa(int(r.Partition)) + "-" + strconv.FormatInt(r.Offset, 10)
}

// buildDocument turns a record into a document. A record whose value is a
// JSON object (the agent's ECS record) is indexed as it is plus
// "kafka":{"topic","partition","offset"}; anything else is indexed as
// {"message": value, "@timestamp": Kafka timestamp, "kafka": {…}}. The index
// comes from namer and the document's @timestamp (the Kafka timestamp when
// @timestamp is missing or not RFC 3339).
func buildDocument(r *kgo.Record, namer *indexNamer) document {
	d := document{rec: r, id: docID(r), ts: r.Timestamp}
	var head struct {
		Timestamp json.RawMessage `json:"@timestamp"`
		Kafka     json.RawMessage `json:"kafka"`
	}
	v := bytes.TrimSpace(r.Value)
	if len(v) > 0 && v[0] == '{' && json.Unmarshal(v, &head) == nil {
		if ts, ok := parseTimestamp(head.Timestamp); ok {
			d.ts = ts
		}
		if head.Kafka != nil {
			// The record has its own "kafka" field: ours replaces it (a
			// JSON object with a duplicate key is rejected by Elasticsearch).
			d.body = replaceKafkaField(v, r)
		} else {
			d.body = appendKafkaField(v, r)
		}
		if bytes.ContainsAny(d.body, "\r\n") {
			// The bulk body is one document per line.
			var buf bytes.Buffer
			if json.Compact(&buf, d.body) == nil {
				d.body = buf.Bytes()
			}
		}
	} else {
		b := []byte(`{"message":`)
		// Invalid UTF-8 becomes U+FFFD here, not in json.Marshal: Go 1.27's
		// writes it as the character where 1.26 wrote \ufffd.
		msg, _ := json.Marshal(strings.ToValidUTF8(string(r.Value), "\uFFFD"))
		b = append(b, msg...)
		b = append(b, `,"@timestamp":"`...)
		b = r.Timestamp.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"', '}')
		d.body = appendKafkaField(b, r)
	}
	d.index = namer.name(r.Topic, d.ts)
	return d
}

func parseTimestamp(raw json.RawMessage) (time.Time, bool) {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return time.Time{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	return ts, err == nil
}

// appendKafkaField adds "kafka":{…} to the JSON object obj (trimmed).
func appendKafkaField(obj []byte, r *kgo.Record) []byte {
	inner := bytes.TrimSpace(obj[1 : len(obj)-1])
	b := make([]byte, 0, len(obj)+len(r.Topic)+64)
	b = append(b, obj[:len(obj)-1]...)
	b = bytes.TrimRight(b, " \t\r\n")
	if len(inner) > 0 {
		b = append(b, ',')
	}
	b = append(b, `"kafka":{"topic":`...)
	t, _ := json.Marshal(r.Topic)
	b = append(b, t...)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	return append(b, '}', '}')
}

// replaceKafkaField rebuilds obj without its "kafka" key, then adds ours.
func replaceKafkaField(obj []byte, r *kgo.Record) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return appendKafkaField(obj, r)
	}
	delete(m, "kafka")
	b, err := json.Marshal(m) // sorted keys, compact
	if err != nil {
		return appendKafkaField(obj, r)
	}
	return appendKafkaField(b, r)
}
