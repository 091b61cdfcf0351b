package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/logcollect/logcollect/internal/record"
)

// AppendJSON appends the event's fields as one line of JSON, keys sorted (as
// encoding/json writes maps, so the output is stable), without HTML escapes.
// It writes the types events hold itself, which takes a third of
// encoding/json's time on logtransfer's documents, and hands any other type
// a processor put in a field to encoding/json. It fails on what JSON cannot
// hold (NaN, ±Inf, channels...), as encoding/json does.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	return appendValue(dst, e.Fields)
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return record.AppendJSONString(b, []byte(v)), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case float64:
		return appendFloat(b, v)
	case json.Number:
		if !json.Valid([]byte(v)) || v == "" {
			return b, fmt.Errorf("json.Number %q is not a number", string(v))
		}
		return append(b, v...), nil
	case map[string]any:
		return appendObject(b, v)
	case []any:
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, x); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case []string:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = record.AppendJSONString(b, []byte(s))
		}
		return append(b, ']'), nil
	}
	// Other types (other integer sizes, time.Time, net.IP, types of a
	// processor's own) as encoding/json writes them.
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

func appendObject(b []byte, m map[string]any) ([]byte, error) {
	var buf [16]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = record.AppendJSONString(b, []byte(k))
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m[k]); err != nil {
			return b, fmt.Errorf("%s: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

// appendFloat writes f as encoding/json does (ES6 number formatting).
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
