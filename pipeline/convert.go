package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

func init() { register("convert", newConvert) }

// convertProc changes the type of fields in place, so that Elasticsearch can
// range-filter and aggregate them (a parser yields strings):
//
//	convert: {fields: {http.response.status_code: integer, source.ip: ip}, ignore_missing: false}
//
// The types, and what converts to them:
//   - integer: an int64; a string of base-10 digits with an optional sign
//     (surrounding spaces allowed), a float without a fraction within
//     int64's range.
//   - float: a float64; a string such as "0.25" or "1e3", an integer.
//     NaN and infinities are refused: JSON cannot hold them.
//   - boolean: true or false; the strings "true" and "false" in any case,
//     "1" and "0", the numbers 1 and 0.
//   - ip: a string holding an IPv4 or IPv6 address, written back in its
//     canonical form (RFC 5952: "2001:DB8:0:0::1" becomes "2001:db8::1"; an
//     IPv4-mapped address becomes the IPv4 one, as Elasticsearch's ip type
//     stores them alike). An address with a zone ("fe80::1%eth0") is
//     refused: the ip type cannot hold it.
//   - string: a string; numbers in the shortest form that reads back the
//     same, booleans as "true" and "false".
//
// A value that does not convert is an error naming the field and the value;
// objects and arrays convert to nothing. A missing or null field is an error
// unless ignore_missing. The fields are converted in the order of their
// names.
type convertProc struct {
	paths         []string
	types         []convertType
	ignoreMissing bool
}

type convertType uint8

const (
	convertInteger convertType = iota + 1
	convertFloat
	convertBoolean
	convertIP
	convertString
)

var convertTypes = map[string]convertType{
	"integer": convertInteger,
	"float":   convertFloat,
	"boolean": convertBoolean,
	"ip":      convertIP,
	"string":  convertString,
}

func newConvert(pc ProcessorConfig) (Processor, error) {
	var o struct {
		Fields        map[string]string `yaml:"fields"`
		IgnoreMissing bool              `yaml:"ignore_missing"`
	}
	if err := pc.decode(&o); err != nil {
		return nil, err
	}
	if len(o.Fields) == 0 {
		return nil, errors.New("fields: at least one field: type is required")
	}
	p := &convertProc{ignoreMissing: o.IgnoreMissing}
	for _, path := range slices.Sorted(maps.Keys(o.Fields)) {
		if path == "" {
			return nil, errors.New("fields: a field name is empty")
		}
		t, ok := convertTypes[o.Fields[path]]
		if !ok {
			return nil, fmt.Errorf("fields: %s: type %q: want integer, float, boolean, ip or string", path, o.Fields[path])
		}
		p.paths, p.types = append(p.paths, path), append(p.types, t)
	}
	return p, nil
}

func (p *convertProc) Process(e *Event) error {
	for i, path := range p.paths {
		v, ok := e.Get(path)
		if !ok || v == nil {
			if p.ignoreMissing {
				continue
			}
			return missingError(e, path)
		}
		out, err := convertValue(v, p.types[i])
		if err != nil {
			return fmt.Errorf("field %s: %w", path, err)
		}
		if err := e.Put(path, out); err != nil {
			return err
		}
	}
	return nil
}

// convertValue returns v as type t.
func convertValue(v any, t convertType) (any, error) {
	switch t {
	case convertInteger:
		switch v := v.(type) {
		case int64:
			return v, nil
		case float64:
			// 2^63 is exact as a float64; -2^63 fits, 2^63 does not.
			if v == math.Trunc(v) && v >= -(1<<63) && v < 1<<63 {
				return int64(v), nil
			}
		case string:
			if i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return i, nil
			}
		}
		return nil, fmt.Errorf("%s is not an integer", quoteForError(v))
	case convertFloat:
		switch v := v.(type) {
		case float64:
			return v, nil
		case int64:
			return float64(v), nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f, nil
			}
		}
		return nil, fmt.Errorf("%s is not a float", quoteForError(v))
	case convertBoolean:
		switch v := v.(type) {
		case bool:
			return v, nil
		case int64:
			if v == 0 || v == 1 {
				return v == 1, nil
			}
		case float64:
			if v == 0 || v == 1 {
				return v == 1, nil
			}
		case string:
			switch s := strings.TrimSpace(v); {
			case strings.EqualFold(s, "true") || s == "1":
				return true, nil
			case strings.EqualFold(s, "false") || s == "0":
				return false, nil
			}
		}
		return nil, fmt.Errorf("%s is not a boolean (true, false, 1 or 0)", quoteForError(v))
	case convertIP:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s is not an IP address", quoteForError(v))
		}
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s is not an IP address", quoteForError(v))
		}
		if a.Zone() != "" {
			return nil, fmt.Errorf("%s is an IP address with a zone, which Elasticsearch's ip type cannot hold", quoteForError(v))
		}
		return a.Unmap().String(), nil
	case convertString:
		switch v := v.(type) {
		case string:
			return v, nil
		case int64:
			return strconv.FormatInt(v, 10), nil
		case float64:
			return formatFloat(v), nil
		case bool:
			return strconv.FormatBool(v), nil
		}
		return nil, fmt.Errorf("%s cannot be a string", quoteForError(v))
	}
	panic("convert: unknown type") // newConvert accepts only the types above
}

// formatFloat writes f as encoding/json does: the shortest text that reads
// back as f, in exponent form only for very large or small magnitudes.
func formatFloat(f float64) string {
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
