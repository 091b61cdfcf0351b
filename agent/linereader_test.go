package agent

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLineReader(t *testing.T) {
	type line struct {
		text      string
		end       int64
		truncated bool
	}
	tests := []struct {
		name    string
		input   string
		max     int
		want    []line
		partial *line
	}{
		{name: "lines", input: "a\nbb\n\nccc\n", max: 10, want: []line{{"a", 2, false}, {"bb", 5, false}, {"", 6, false}, {"ccc", 10, false}}},
		{name: "crlf", input: "a\r\nb\n", max: 10, want: []line{{"a", 3, false}, {"b", 5, false}}},
		{name: "partial kept until told", input: "a\nbc", max: 10, want: []line{{"a", 2, false}}, partial: &line{"bc", 4, false}},
		{name: "long line truncated, offsets exact", input: "0123456789\nab\n", max: 4, want: []line{{"0123", 11, true}, {"ab", 14, false}}},
		{name: "long partial truncated", input: "0123456789", max: 4, partial: &line{"0123", 10, true}},
		{name: "line of exactly max", input: "abcd\n", max: 4, want: []line{{"abcd", 5, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := newLineReader(strings.NewReader(tt.input), 0, tt.max)
			var got []line
			for {
				l, end, tr, err := lr.next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				got = append(got, line{string(l), end, tr})
			}
			require.Equal(t, tt.want, got)
			l, end, tr, ok := lr.partial()
			if tt.partial == nil {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.Equal(t, *tt.partial, line{string(l), end, tr})
		})
	}
}

func TestLineReaderResumesAfterEOF(t *testing.T) {
	r := &growingReader{}
	lr := newLineReader(r, 100, 1024)
	r.data = "hel"
	_, _, _, err := lr.next()
	require.ErrorIs(t, err, io.EOF)
	r.data += "lo\nx"
	l, end, _, err := lr.next()
	require.NoError(t, err)
	require.Equal(t, "hello", string(l))
	require.EqualValues(t, 106, end)
}

// growingReader returns what has been appended to data since the last read,
// then io.EOF, like a file being written.
type growingReader struct {
	data string
	pos  int
}

func (g *growingReader) Read(p []byte) (int, error) {
	if g.pos >= len(g.data) {
		return 0, io.EOF
	}
	n := copy(p, g.data[g.pos:])
	g.pos += n
	return n, nil
}
