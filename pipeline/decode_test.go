package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// referenceDecode is DecodeJSON as encoding/json does it: UseNumber, then
// each json.Number as an int64 when it is one, else a float64, else (out of
// range) kept.
func referenceDecode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the value")
	}
	return referenceNumbers(v), nil
}

func referenceNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v
	case map[string]any:
		for k, x := range v {
			v[k] = referenceNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = referenceNumbers(x)
		}
	}
	return v
}

var decodeCorpus = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1`, `-1`, `1.5`, `1e3`, `1E+3`, `1e-3`, `-0.0e-0`, `9223372036854775807`, `9223372036854775808`,
	`-9223372036854775808`, `-9223372036854775809`, `1e400`, `-1e400`, `1e-400`, `true`, `false`, `null`,
	`{"a":1,"b":[1,2,{"c":null}],"d":{"e":"f"}}`, ` { "a" : 1 , "b" : [ ] } `, "\t{\"a\":1}\r\n",
	`{"a":1,"a":2}`, `"\u00e9\u65e5"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\ude00"`, `"\ud83d\u0041"`, `"\ud83d\ud83d"`,
	`"a\"b\\c\/d\b\f\n\r\t"`, "\"\xff\"", "\"a\xc3\"", "\"\xe6\x97\xa5\"", "\"\\n\xff\"", `"\u00"`, `"\u00zz"`, `"\x"`,
	`{"a":`, `{"a"`, `{"a" 1}`, `{a:1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `1e+`, `tru`, `nul`, `truex`,
	`{"a":1} {}`, `{"a":1}x`, `[`, `"abc`, "\"a\nb\"", "\"a\x01b\"", ``, ` `, `{"message":"10.0.0.1 - - [25/Nov/2026] \"GET / HTTP/1.1\" 200"}`,
	strings.Repeat("[", 100) + strings.Repeat("]", 100),
}

// TestDecodeJSONMatchesEncodingJSON: the decoder accepts what encoding/json
// accepts and gives the same values.
func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range decodeCorpus {
		checkDecode(t, []byte(in))
	}
	checkDecode(t, []byte(strings.Repeat("[", 10000)+strings.Repeat("]", 10000)))
	checkDecode(t, []byte(strings.Repeat("[", 10001)+strings.Repeat("]", 10001)))
	_, err := DecodeJSON([]byte(strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001)))
	require.ErrorContains(t, err, "exceeded max depth")
}

func checkDecode(t *testing.T, in []byte) {
	t.Helper()
	want, werr := referenceDecode(in)
	got, gerr := DecodeJSON(in)
	if werr != nil {
		require.Error(t, gerr, "%q: encoding/json: %v", in, werr)
		return
	}
	require.NoError(t, gerr, "%q", in)
	require.Equal(t, want, got, "%q", in)
}

func FuzzDecodeJSON(f *testing.F) {
	for _, in := range decodeCorpus {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecode(t, in)
	})
}

func BenchmarkDecodeJSON(b *testing.B) {
	value := []byte(`{"@timestamp":"2026-11-25T14:23:01.000000007Z","message":"10.1.2.3 - - [25/Nov/2026:14:23:01 +0000] \"GET /api/v1/items/7919?page=1 HTTP/1.1\" 200 4608 \"https://example.com/list\" \"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\"","host":{"name":"web-1","ip":"10.0.0.7"},"log":{"file":{"path":"/var/log/nginx/access.log"},"offset":200}}`)
	b.Run("decoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeJSON(value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := referenceDecode(value); err != nil {
				b.Fatal(err)
			}
		}
	})
}
