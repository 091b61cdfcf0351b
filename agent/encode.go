package agent

import (
	"encoding/binary"
	"math/bits"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
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
	p = AppendJSONString(p, []byte(hostName))
	p = append(p, `,"ip":`...)
	p = AppendJSONString(p, []byte(hostIP))
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
			f = AppendJSONString(f, []byte(k))
			f = append(f, ':')
			f = AppendJSONString(f, []byte(fields[k]))
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
	dst, invalid := appendJSONStringFlag(dst, ev.Text)
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

const hexDigits = "0123456789abcdef"

// safe[b] is true for ASCII bytes that need no escaping in a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendJSONString appends s as a JSON string. Invalid UTF-8 bytes become the
// six characters \\xNN in the JSON text (the four characters \xNN once
// decoded), so no byte of the line is lost. logtransfer writes its bulk action
// lines with it too.
func AppendJSONString(dst, s []byte) []byte {
	dst, _ = appendJSONStringFlag(dst, s)
	return dst
}

// appendJSONStringFlag is AppendJSONString that also reports whether s held
// invalid UTF-8. It skips runs of plain ASCII eight bytes at a time.
func appendJSONStringFlag(dst, s []byte) ([]byte, bool) {
	dst = append(dst, '"')
	invalid := false
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			if m := special8(binary.LittleEndian.Uint64(s[i:])); m == 0 {
				i += 8
				continue
			} else if skip := bits.TrailingZeros64(m) / 8; skip > 0 {
				i += skip // to the first byte that needs a look
			}
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			invalid = true
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', '\\', 'x', hexDigits[b>>4], hexDigits[b&0xf])
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' { // valid JSON, but breaks JavaScript consumers
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), invalid
}

// special8 returns a mask with the high bit set in the bytes of x (little
// endian) that may need escaping: control bytes, quotes, backslashes and
// non-ASCII bytes. It is the classic "has zero byte" bit trick applied to x,
// x^'"' and x^'\\': zero means all 8 bytes are plain, and the lowest set bit
// is exact (borrows only carry upwards), so the first byte to look at is
// TrailingZeros64(mask)/8; higher bits may be false alarms.
func special8(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	b := x ^ (lo * '\\')
	return ((x - lo*0x20) | (q - lo) | (b - lo) | x) & hi
}
