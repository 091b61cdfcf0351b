package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
//
// It reads a string: the input is copied once, and every key and string
// value without an escape is a substring of that copy, not an allocation of
// its own (a record's dozen keys and values were a third of a record's
// allocations); numbers are parsed in place.
type decoder struct {
	data  string
	i     int
	depth int
	// rootHint is the room the outermost object's map is made with: an
	// event's root gains the fields of its pipeline, and a map made small
	// and grown past 8 keys is allocated twice.
	rootHint int
}

// maxDepth bounds the nesting of arrays and objects, as encoding/json does
// (10000), so that a hostile record cannot exhaust the stack.
const maxDepth = 10000

var errUnexpectedEOF = errors.New("unexpected EOF")

func decodeJSON(data []byte) (any, error) { return decodeJSONString(string(data), 0) }

// decodeJSONString is decodeJSON of a string; rootHint is the room of the
// outermost object's map (see decoder).
func decodeJSONString(data string, rootHint int) (any, error) {
	d := decoder{data: data, rootHint: rootHint}
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
	var m map[string]any
	if d.depth == 1 && d.rootHint > 0 {
		m = make(map[string]any, d.rootHint)
	} else {
		m = map[string]any{}
	}
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
	s := d.data[start:d.i]
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
			if ascii || utf8.ValidString(s) {
				return s, nil
			}
			var b strings.Builder
			b.Grow(len(s) + 8)
			appendValidUTF8(&b, s)
			return b.String(), nil
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
// d.i. It writes into a strings.Builder, whose String does not copy, made
// once with room for the string as written (escapes only shorten it).
func (d *decoder) escapedStr(start int) (string, error) {
	var b strings.Builder
	b.Grow(quotedLen(d.data, d.i) - start + 4) // + a U+FFFD's growth over an invalid byte or two
	appendValidUTF8(&b, d.data[start:d.i])
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return b.String(), nil
		case c < 0x20:
			return "", d.syntaxError("in string literal")
		case c == '\\':
			d.i++
			if d.i >= len(d.data) {
				return "", errUnexpectedEOF
			}
			switch e := d.data[d.i]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
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
				b.WriteRune(r)
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
			b.WriteString(d.data[d.i:j])
			d.i = j
		default:
			r, size := utf8.DecodeRuneInString(d.data[d.i:])
			b.WriteRune(r) // RuneError for an invalid byte
			d.i += size
		}
	}
	return "", errUnexpectedEOF
}

// quotedLen returns the index of the '"' that closes the string in which s
// has an escape at i (len(s) if none does): a backslash escapes the byte
// after it.
func quotedLen(s string, i int) int {
	for i < len(s) {
		j := strings.IndexAny(s[i:], `"\`)
		if j < 0 {
			return len(s)
		}
		if i += j; s[i] == '"' {
			return i
		}
		i += 2
	}
	return len(s)
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

// appendValidUTF8 writes s to b with each invalid byte as U+FFFD.
func appendValidUTF8(b *strings.Builder, s string) {
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] < utf8.RuneSelf {
			i++
		}
		b.WriteString(s[:i])
		if s = s[i:]; s == "" {
			return
		}
		r, size := utf8.DecodeRuneInString(s)
		b.WriteRune(r)
		s = s[size:]
	}
}
