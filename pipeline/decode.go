package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decoder parses JSON into the values events hold (see DecodeJSON). It
// stands in for encoding/json's decoding into any, which took half the time
// of a record through a short pipeline in logtransfer (reflection, a
// json.Number per number then converted, a second pass to check for
// trailing data): it reads the bytes once and allocates only the values.
// It accepts exactly what encoding/json accepts (FuzzDecodeJSON compares
// the two) and gives the same values: strings with invalid UTF-8 or lone
// surrogates get U+FFFD, and a name given twice keeps its last value.
type decoder struct {
	data  []byte
	i     int
	depth int
}

// maxDepth bounds the nesting of arrays and objects, as encoding/json does
// (10000), so that a hostile record cannot exhaust the stack.
const maxDepth = 10000

var errUnexpectedEOF = errors.New("unexpected EOF")

func decodeJSON(data []byte) (any, error) {
	d := decoder{data: data}
	d.skipSpace()
	if d.i == len(d.data) {
		return nil, errUnexpectedEOF
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i < len(d.data) {
		return nil, errors.New("invalid JSON: data after the value")
	}
	return v, nil
}

func (d *decoder) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) syntaxError(what string) error {
	if d.i >= len(d.data) {
		return errUnexpectedEOF
	}
	return fmt.Errorf("invalid character %s %s", quoteChar(d.data[d.i]), what)
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// value parses the value at d.i, which is not a space.
func (d *decoder) value() (any, error) {
	if d.i >= len(d.data) {
		return nil, errUnexpectedEOF
	}
	switch c := d.data[d.i]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		return d.str()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return d.number()
		}
		return nil, d.syntaxError("looking for beginning of value")
	}
}

func (d *decoder) literal(lit string) error {
	for j := 0; j < len(lit); j++ {
		if d.i >= len(d.data) {
			return errUnexpectedEOF
		}
		if d.data[d.i] != lit[j] {
			return d.syntaxError("in literal " + lit + " (expecting " + quoteChar(lit[j]) + ")")
		}
		d.i++
	}
	return nil
}

func (d *decoder) object() (any, error) {
	if d.depth++; d.depth > maxDepth {
		return nil, errors.New("exceeded max depth")
	}
	defer func() { d.depth-- }()
	d.i++ // {
	m := map[string]any{}
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, errUnexpectedEOF
		}
		if d.data[d.i] != '"' {
			return nil, d.syntaxError("looking for beginning of object key string")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, errUnexpectedEOF
		}
		if d.data[d.i] != ':' {
			return nil, d.syntaxError("after object key")
		}
		d.i++
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, errUnexpectedEOF
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, nil
		default:
			return nil, d.syntaxError("after object key:value pair")
		}
	}
}

func (d *decoder) array() (any, error) {
	if d.depth++; d.depth > maxDepth {
		return nil, errors.New("exceeded max depth")
	}
	defer func() { d.depth-- }()
	d.i++ // [
	a := []any{}
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, errUnexpectedEOF
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return a, nil
		default:
			return nil, d.syntaxError("after array element")
		}
	}
}

// number parses a JSON number: an int64 when it is an integer literal that
// fits, else a float64, else (beyond float64's range) its json.Number.
func (d *decoder) number() (any, error) {
	start := d.i
	isInt := true
	if d.data[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i >= len(d.data):
		return nil, errUnexpectedEOF
	case d.data[d.i] == '0':
		d.i++
	case d.data[d.i] >= '1' && d.data[d.i] <= '9':
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
		}
	default:
		return nil, d.syntaxError("in numeric literal")
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		isInt = false
		d.i++
		if err := d.digits(); err != nil {
			return nil, err
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		isInt = false
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if err := d.digits(); err != nil {
			return nil, err
		}
	}
	s := string(d.data[start:d.i])
	if isInt {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, nil
	}
	return json.Number(s), nil
}

// digits reads one or more digits.
func (d *decoder) digits() error {
	if d.i >= len(d.data) {
		return errUnexpectedEOF
	}
	if d.data[d.i] < '0' || d.data[d.i] > '9' {
		return d.syntaxError("in numeric literal")
	}
	for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
		d.i++
	}
	return nil
}

// str parses the string at d.i (a '"').
func (d *decoder) str() (string, error) {
	d.i++ // "
	start := d.i
	ascii := true
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			s := d.data[start:d.i]
			d.i++
			if ascii || utf8.Valid(s) {
				return string(s), nil
			}
			return string(appendValidUTF8(make([]byte, 0, len(s)+8), s)), nil
		case c == '\\':
			return d.escapedStr(start)
		case c < 0x20:
			return "", d.syntaxError("in string literal")
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return "", errUnexpectedEOF
}

// escapedStr finishes the string that starts at start and has an escape at
// d.i.
func (d *decoder) escapedStr(start int) (string, error) {
	b := appendValidUTF8(make([]byte, 0, d.i-start+16), d.data[start:d.i])
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c < 0x20:
			return "", d.syntaxError("in string literal")
		case c == '\\':
			d.i++
			if d.i >= len(d.data) {
				return "", errUnexpectedEOF
			}
			switch e := d.data[d.i]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := d.hex4(d.i + 1)
				if !ok {
					for k := d.i + 1; k < d.i+5 && k < len(d.data); k++ {
						if !isHex(d.data[k]) {
							d.i = k
							return "", d.syntaxError("in \\u hexadecimal character escape")
						}
					}
					return "", errUnexpectedEOF
				}
				d.i += 4
				if utf16.IsSurrogate(r) {
					// A surrogate followed by \u and its pair is one character;
					// anything else is U+FFFD, as in encoding/json.
					r2, ok := d.hex4(d.i + 3)
					if ok && d.data[d.i+1] == '\\' && d.data[d.i+2] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
							d.i += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", d.syntaxError("in string escape code")
			}
			d.i++
		case c < utf8.RuneSelf:
			// A run of plain ASCII at once.
			j := d.i + 1
			for j < len(d.data) && d.data[j] >= 0x20 && d.data[j] < utf8.RuneSelf && d.data[j] != '"' && d.data[j] != '\\' {
				j++
			}
			b = append(b, d.data[d.i:j]...)
			d.i = j
		default:
			r, size := utf8.DecodeRune(d.data[d.i:])
			b = utf8.AppendRune(b, r) // RuneError for an invalid byte
			d.i += size
		}
	}
	return "", errUnexpectedEOF
}

// hex4 returns the rune of the four hex digits at j; ok is false when
// there are not four.
func (d *decoder) hex4(j int) (r rune, ok bool) {
	if j+4 > len(d.data) {
		return 0, false
	}
	for k := j; k < j+4; k++ {
		c := d.data[k]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// appendValidUTF8 appends s with each invalid byte as U+FFFD.
func appendValidUTF8(b, s []byte) []byte {
	for len(s) > 0 {
		if s[0] < utf8.RuneSelf {
			b = append(b, s[0])
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRune(s)
		b = utf8.AppendRune(b, r)
		s = s[size:]
	}
	return b
}
