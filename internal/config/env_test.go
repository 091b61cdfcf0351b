package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"A": "alpha", "B": "beta", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "nothing to expand", in: "a: b\n", want: "a: b\n"},
		{name: "variable", in: "a: ${A}\n", want: "a: alpha\n"},
		{name: "several on a line", in: "a: ${A}:${B}-${A}\n", want: "a: alpha:beta-alpha\n"},
		{name: "set but empty", in: "a: '${EMPTY}'", want: "a: ''"},
		{name: "default unused", in: "a: ${A:-x}", want: "a: alpha"},
		{name: "default when unset", in: "a: ${NOPE:-x y}", want: "a: x y"},
		{name: "default when empty", in: "a: ${EMPTY:-x}", want: "a: x"},
		{name: "empty default", in: "a: '${NOPE:-}'", want: "a: ''"},
		{name: "default with :-", in: "a: ${NOPE:-x:-y}", want: "a: x:-y"},
		{name: "lone dollar stays", in: "pattern: 'foo$'\nb: $A $ {A}\n", want: "pattern: 'foo$'\nb: $A $ {A}\n"},
		{name: "double dollar stays", in: "a: $$A $$\n", want: "a: $$A $$\n"},
		{name: "escaped", in: "a: $${A} $${NOPE}\n", want: "a: ${A} ${NOPE}\n"},
		{name: "escape is read left to right", in: "a: $$${A}", want: "a: $${A}"},
		{name: "comment line not expanded", in: "a: 1\n  # password: ${NOPE}\n#${NOPE\n", want: "a: 1\n  # password: ${NOPE}\n#${NOPE\n"},
		{name: "no trailing newline", in: "a: ${A}", want: "a: alpha"},
		{name: "unset", in: "a: 1\nb: ${NOPE}\n", wantErr: "line 2: environment variable NOPE is not set (use ${NOPE:-default} for a default)"},
		{name: "unset in a trailing comment", in: "a: 1 # ${NOPE}\n", wantErr: "line 1: environment variable NOPE is not set (use ${NOPE:-default} for a default)"},
		{name: "unterminated", in: "a: ${A\nb: }\n", wantErr: "line 1: unterminated ${ (write $${ for a literal ${)"},
		{name: "bad name", in: "a: ${1A}", wantErr: `line 1: invalid variable reference "${1A}": want ${NAME} or ${NAME:-default}`},
		{name: "unsupported form", in: "a: ${A-x}", wantErr: `line 1: invalid variable reference "${A-x}": want ${NAME} or ${NAME:-default}`},
		{name: "empty name", in: "a: ${}", wantErr: `line 1: invalid variable reference "${}": want ${NAME} or ${NAME:-default}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandEnv([]byte(tt.in), lookup)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

func TestExpandFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}
	pw := write("pw", "s3cret-from-file\n")
	crlf := write("crlf", "s3cret\r\n")
	bare := write("bare", "no-newline")
	multi := write("multi", "line1\nline2\n")
	lookup := func(string) (string, bool) { return "", false }
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "trailing newline dropped", in: "password: '${file:" + pw + "}'\n", want: "password: 's3cret-from-file'\n"},
		{name: "crlf dropped", in: "a: ${file:" + crlf + "}", want: "a: s3cret"},
		{name: "no newline", in: "a: ${file:" + bare + "}", want: "a: no-newline"},
		{name: "escaped", in: "a: $${file:" + bare + "}", want: "a: ${file:" + bare + "}"},
		{name: "missing file", in: "a: 1\nb: ${file:" + dir + "/nope}", wantErr: "line 2: ${file:" + dir + "/nope}: open " + dir + "/nope: no such file or directory"},
		{name: "several lines", in: "a: ${file:" + multi + "}", wantErr: "line 1: ${file:" + multi + "}: the file holds more than one line"},
		{name: "empty path", in: "a: ${file:}", wantErr: "line 1: ${file:}: want ${file:PATH}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandEnv([]byte(tt.in), lookup)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "line1", "the error shows no content")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}
