package record

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// TestAppendJSONStringMatchesEncodingJSON checks the fast path against
// encoding/json for valid UTF-8, at every alignment of the special bytes.
func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	specials := []string{`"`, `\`, "\n", "\x00", "\x1f", "\x7f", "é", "日本", " ", "~"}
	for _, sp := range specials {
		for pad := 0; pad < 17; pad++ {
			s := strings.Repeat("a", pad) + sp + strings.Repeat("b", 17-pad)
			var got string
			require.NoError(t, json.Unmarshal(AppendJSONString(nil, []byte(s)), &got))
			require.Equal(t, s, got)
		}
	}
}

// FuzzAppendJSONString checks the SWAR fast path on any input: the output is always valid
// JSON, and for valid UTF-8 it decodes back to the input.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", `plain ascii text, long enough for two words`, `a"b\c` + "\n\t\x00é日本\u2028\xff\xfe", strings.Repeat(`"`, 17)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		out, invalid := AppendJSONStringFlag(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("invalid JSON %q for %q: %v", out, s, err)
		}
		if invalid == utf8.Valid(s) {
			t.Fatalf("invalid=%t for %q", invalid, s)
		}
		if !invalid && got != string(s) {
			t.Fatalf("%q decodes to %q", s, got)
		}
	})
}
