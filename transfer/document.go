package transfer

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/esindex"
	"github.com/logcollect/logcollect/internal/record"
)

// document is one record turned into an Elasticsearch document.
type document struct {
	rec   *kgo.Record
	index string
	id    string    // see docID: a redelivery overwrites
	ts    time.Time // when the agent read the line: @timestamp as it came, or the Kafka timestamp
	body  []byte    // one line of JSON
}

// maxIDBytes is Elasticsearch's limit on a document id.
const maxIDBytes = 512

// docID is the deterministic document id of a record: the event id the agent
// put in the record.IDHeader header, which stays the same when the agent
// re-sends a line after a crash (the record then has a new Kafka offset), or
// else {topic}-{partition}-{offset}, which stays the same when Kafka
// redelivers a record. Either way a second delivery overwrites the document
// instead of adding one. A header value Elasticsearch would refuse as an id
// (empty, too long, not UTF-8) is ignored.
func docID(r *kgo.Record) string {
	for i := range r.Headers {
		h := &r.Headers[i]
		if h.Key == record.IDHeader {
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
func buildDocument(r *kgo.Record, namer *esindex.Template) document {
	d := document{rec: r, id: docID(r), ts: r.Timestamp}
	v := bytes.TrimSpace(r.Value)
	if len(v) > 0 && v[0] == '{' && json.Valid(v) {
		ts, hasKafka := topLevel(v)
		if t, ok := parseTimestamp(ts); ok {
			d.ts = t
		}
		if hasKafka {
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
	d.index = namer.Name(r.Topic, d.ts)
	return d
}

// parseTimestamp parses a JSON string holding an RFC 3339 time.
func parseTimestamp(raw []byte) (time.Time, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return time.Time{}, false
	}
	var s string
	if bytes.IndexByte(raw, '\\') < 0 {
		s = string(raw[1 : len(raw)-1])
	} else if json.Unmarshal(raw, &s) != nil {
		return time.Time{}, false
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	return ts, err == nil
}

// topLevel scans the valid JSON object obj for the members logtransfer
// reads: the raw value of "@timestamp" (nil when absent) and whether there
// is a "kafka" member. It stands in for json.Unmarshal into a struct, which
// costs twice the CPU and allocates, on every record. Keys are matched
// exactly, as Elasticsearch does (encoding/json would also match "Kafka").
func topLevel(obj []byte) (ts []byte, hasKafka bool) {
	i := 1
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return ts, hasKafka // '}'
		}
		k := i
		i = skipString(obj, i)
		key := obj[k:i]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			if json.Unmarshal(key, &s) == nil {
				key = []byte(strconv.Quote(s))
			}
		}
		i = skipSpace(obj, i) + 1 // ':'
		i = skipSpace(obj, i)
		v := i
		i = skipValue(obj, i)
		switch string(key) {
		case `"@timestamp"`:
			ts = obj[v:i]
		case `"kafka"`:
			hasKafka = true
		}
		i = skipSpace(obj, i)
		if i < len(obj) && obj[i] == ',' {
			i++
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the JSON string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the valid JSON value that starts at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
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
	b = record.AppendJSONString(b, []byte(r.Topic))
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
