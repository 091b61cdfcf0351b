package pipeline

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConvert(t *testing.T) {
	tests := []struct {
		name, step, in string
		want           map[string]any // path → value, Go type included
		wantErr        string
	}{
		{name: "fields of a parsed access line",
			step: `convert: {fields: {http.response.status_code: integer, http.response.body.bytes: integer, source.ip: ip, event.duration_s: float, cache.hit: boolean, http.version: string}}`,
			in:   `{"http":{"response":{"status_code":"200","body":{"bytes":"5120"}},"version":"1.1"},"source":{"ip":"2001:DB8:0:0:0:0:0:1"},"event":{"duration_s":"0.012"},"cache":{"hit":"TRUE"}}`,
			want: map[string]any{"http.response.status_code": int64(200), "http.response.body.bytes": int64(5120),
				"source.ip": "2001:db8::1", "event.duration_s": 0.012, "cache.hit": true, "http.version": "1.1"}},
		{name: "integer from every kind", step: `convert: {fields: {a: integer, b: integer, c: integer, d: integer, e: integer}}`,
			in:   `{"a":"-42","b":7,"c":3.0,"d":" +9 ","e":-9.223372036854775808e18}`,
			want: map[string]any{"a": int64(-42), "b": int64(7), "c": int64(3), "d": int64(9), "e": int64(-9223372036854775808)}},
		{name: "integer from a fraction", step: `convert: {fields: {took: integer}}`, in: `{"took":"12.5"}`,
			wantErr: `pipeline p: processors[0] (convert): field took: "12.5" is not an integer`},
		{name: "integer from a float with a fraction", step: `convert: {fields: {took: integer}}`, in: `{"took":12.5}`,
			wantErr: `field took: 12.5 is not an integer`},
		{name: "integer beyond int64", step: `convert: {fields: {n: integer}}`, in: `{"n":"9223372036854775808"}`,
			wantErr: `field n: "9223372036854775808" is not an integer`},
		{name: "integer from a float at 2^63", step: `convert: {fields: {n: integer}}`, in: `{"n":9.223372036854775808e18}`,
			wantErr: `field n: 9.223372036854776e+18 is not an integer`},
		{name: "integer from nginx's dash", step: `convert: {fields: {http.response.body.bytes: integer}}`, in: `{"http":{"response":{"body":{"bytes":"-"}}}}`,
			wantErr: `field http.response.body.bytes: "-" is not an integer`},
		{name: "integer from a boolean", step: `convert: {fields: {n: integer}}`, in: `{"n":true}`,
			wantErr: `field n: true is not an integer`},
		{name: "float from every kind", step: `convert: {fields: {a: float, b: float, c: float, d: float}}`,
			in:   `{"a":"1e3","b":2,"c":0.5,"d":"-0.25"}`,
			want: map[string]any{"a": 1000.0, "b": 2.0, "c": 0.5, "d": -0.25}},
		{name: "float NaN", step: `convert: {fields: {f: float}}`, in: `{"f":"NaN"}`, wantErr: `field f: "NaN" is not a float`},
		{name: "float Inf", step: `convert: {fields: {f: float}}`, in: `{"f":"+Inf"}`, wantErr: `field f: "+Inf" is not a float`},
		{name: "float out of range", step: `convert: {fields: {f: float}}`, in: `{"f":"1e400"}`, wantErr: `field f: "1e400" is not a float`},
		{name: "boolean from every kind", step: `convert: {fields: {a: boolean, b: boolean, c: boolean, d: boolean, e: boolean, f: boolean}}`,
			in:   `{"a":"true","b":"False","c":"1","d":0,"e":1.0,"f":false}`,
			want: map[string]any{"a": true, "b": false, "c": true, "d": false, "e": true, "f": false}},
		{name: "boolean from yes", step: `convert: {fields: {ok: boolean}}`, in: `{"ok":"yes"}`,
			wantErr: `field ok: "yes" is not a boolean (true, false, 1 or 0)`},
		{name: "boolean from 2", step: `convert: {fields: {ok: boolean}}`, in: `{"ok":2}`,
			wantErr: `field ok: 2 is not a boolean`},
		{name: "ip, IPv4 and IPv4-mapped", step: `convert: {fields: {a: ip, b: ip, c: ip}}`,
			in:   `{"a":"192.168.0.1","b":"::ffff:10.0.0.7","c":" ::1 "}`,
			want: map[string]any{"a": "192.168.0.1", "b": "10.0.0.7", "c": "::1"}},
		{name: "ip with a port", step: `convert: {fields: {source.ip: ip}}`, in: `{"source":{"ip":"10.0.0.7:443"}}`,
			wantErr: `field source.ip: "10.0.0.7:443" is not an IP address`},
		{name: "ip, a host name", step: `convert: {fields: {source.ip: ip}}`, in: `{"source":{"ip":"web-1.example.com"}}`,
			wantErr: `field source.ip: "web-1.example.com" is not an IP address`},
		{name: "ip with a zone", step: `convert: {fields: {source.ip: ip}}`, in: `{"source":{"ip":"fe80::1%eth0"}}`,
			wantErr: `field source.ip: "fe80::1%eth0" is an IP address with a zone`},
		{name: "ip from a number", step: `convert: {fields: {source.ip: ip}}`, in: `{"source":{"ip":167772167}}`,
			wantErr: `field source.ip: 167772167 is not an IP address`},
		{name: "string from every kind", step: `convert: {fields: {a: string, b: string, c: string, d: string, e: string, f: string}}`,
			in:   `{"a":200,"b":0.1,"c":1e21,"d":true,"e":"s","f":-1e-7}`,
			want: map[string]any{"a": "200", "b": "0.1", "c": "1e+21", "d": "true", "e": "s", "f": "-1e-07"}},
		{name: "string from an object", step: `convert: {fields: {user: string}}`, in: `{"user":{"id":1}}`,
			wantErr: `field user: an object cannot be a string`},
		{name: "a long value is cut in the error", step: `convert: {fields: {n: integer}}`,
			in:      `{"n":"0123456789012345678901234567890123456789012345678901234567890123456789"}`,
			wantErr: `field n: "0123456789012345678901234567890123456789012345678901234567890123"… is not an integer`},
		{name: "missing", step: `convert: {fields: {n: integer}}`, in: `{"m":1}`, wantErr: "field n not found"},
		{name: "null", step: `convert: {fields: {n: integer}}`, in: `{"n":null}`, wantErr: "field n is null"},
		{name: "null, ignored as missing", step: `convert: {fields: {n: integer}, ignore_missing: true}`, in: `{"n":null}`,
			want: map[string]any{"n": nil}},
		{name: "missing, ignored", step: `convert: {fields: {n: integer, m: string}, ignore_missing: true}`, in: `{"m":1}`,
			want: map[string]any{"m": "1"}},
		{name: "one failure fails all", step: `convert: {fields: {a: integer, b: integer}}`, in: `{"a":"1","b":"x"}`,
			wantErr: `field b: "x" is not an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := runStep(t, tt.step, tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			for path, want := range tt.want {
				got, _ := e.Get(path)
				require.Equal(t, want, got, path)
			}
		})
	}
}

func TestConvertConfig(t *testing.T) {
	for step, want := range map[string]string{
		`convert: {}`:                           "pipeline p: processors[0] (convert): fields: at least one field: type is required",
		`convert: {fields: {n: int}}`:           `fields: n: type "int": want integer, float, boolean, ip or string`,
		`convert: {fields: {"": integer}}`:      "fields: a field name is empty",
		`convert: {fields: {n: integer}, x: 1}`: "field x not found",
	} {
		require.ErrorContains(t, stepError(t, step), want, step)
	}
}

func BenchmarkConvert(b *testing.B) {
	p := stepPipeline(b, `convert: {fields: {http.response.status_code: integer, http.response.body.bytes: integer, source.ip: ip}}`).steps[0].proc
	body, source := map[string]any{}, map[string]any{}
	resp := map[string]any{"body": body}
	e := NewEvent(map[string]any{"http": map[string]any{"response": resp}, "source": source})
	b.ReportAllocs()
	for b.Loop() {
		resp["status_code"], body["bytes"], source["ip"] = "200", "5120", "203.0.113.7" // as a parser left them
		if err := p.Process(e); err != nil {
			b.Fatal(err)
		}
	}
}
