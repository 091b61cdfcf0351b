package agent

import (
	"sort"
	"strconv"
	"time"

	"github.com/logcollect/logcollect/internal/record"
)

// Record formats.
const (
	FormatJSON = "json"
	FormatRaw  = "raw"
)

// encoder turns events into Kafka record values. The JSON form is ECS-style:
//
//	{"@timestamp":"…","message":"…","host":{"name":"…","ip":"…"},
//	 "log":{"file":{"path":"…"},"offset":N,"flags":["truncated"]},"fields":{…}}
//
// It is hand-written because it runs once per line: it appends into a reused
// buffer and never reflects. Invalid UTF-8 bytes are kept as the text \xNN
// (and the event is flagged "invalid_utf8") rather than replaced or dropped.
type encoder struct {
	raw    bool
	prefix []byte // `{"@timestamp":"` is added per event; this is `,"host":…` up to `"file":{"path":`
	fields []byte // `,"fields":{…}` or empty
}

func newEncoder(format, hostName, hostIP string, fields map[string]string) *encoder {
	e := &encoder{raw: format == FormatRaw}
	var p []byte
	p = append(p, `,"host":{"name":`...)
	p = record.AppendJSONString(p, []byte(hostName))
	p = append(p, `,"ip":`...)
	p = record.AppendJSONString(p, []byte(hostIP))
	p = append(p, `},"log":{"file":{"path":`...)
	e.prefix = p
	if len(fields) > 0 {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		f := []byte(`,"fields":{`)
		for i, k := range keys {
			if i > 0 {
				f = append(f, ',')
			}
			f = record.AppendJSONString(f, []byte(k))
			f = append(f, ':')
			f = record.AppendJSONString(f, []byte(fields[k]))
		}
		e.fields = append(f, '}')
	}
	return e
}

// encode appends the record value for ev, read from the file at offset
// start, to dst. path is the file's path already encoded as a JSON string and
// ts the read time already formatted (see appendTime): both change rarely,
// so the harvester encodes them once.
func (e *encoder) encode(dst []byte, ev Event, path, ts []byte, start int64) []byte {
	if e.raw {
		return append(dst, ev.Text...)
	}
	dst = append(dst, `{"@timestamp":"`...)
	dst = append(dst, ts...)
	dst = append(dst, `","message":`...)
	dst, invalid := record.AppendJSONStringFlag(dst, ev.Text)
	dst = append(dst, e.prefix...)
	dst = append(dst, path...)
	dst = append(dst, `},"offset":`...)
	dst = strconv.AppendInt(dst, start, 10)
	if ev.Truncated || ev.Multiline || invalid {
		dst = append(dst, `,"flags":[`...)
		for _, f := range [...]struct {
			on   bool
			name string
		}{{ev.Truncated, `"truncated",`}, {ev.Multiline, `"multiline",`}, {invalid, `"invalid_utf8",`}} {
			if f.on {
				dst = append(dst, f.name...)
			}
		}
		dst[len(dst)-1] = ']' // replaces the last comma
	}
	dst = append(dst, '}')
	dst = append(dst, e.fields...)
	return append(dst, '}')
}

// appendTime appends t as RFC 3339 with nanoseconds, in UTC.
func appendTime(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, time.RFC3339Nano)
}
