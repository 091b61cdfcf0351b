package esindex

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestParseAge(t *testing.T) {
	tests := []struct {
		in, err, str string
		want         time.Duration
	}{
		{in: "30d", want: 30 * 24 * time.Hour, str: "30d"},
		{in: "0d", want: 0, str: "0s"},
		{in: "36h", want: 36 * time.Hour, str: "36h0m0s"},
		{in: "48h", want: 48 * time.Hour, str: "2d"},
		{in: "90m", want: 90 * time.Minute, str: "1h30m0s"},
		{in: "30", err: `invalid age "30"`},
		{in: "1.5d", err: "whole days"},
		{in: "-1d", err: "whole days"},
		{in: "-1h", err: "negative"},
		{in: "d", err: "whole days"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := ParseAge(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, a.D())
			require.Equal(t, tt.str, a.String())
			var v struct {
				A Age `yaml:"a"`
			}
			require.NoError(t, yaml.Unmarshal([]byte("a: "+tt.in), &v))
			require.Equal(t, a, v.A)
		})
	}
	var v struct {
		A Age `yaml:"a"`
	}
	require.ErrorContains(t, yaml.Unmarshal([]byte("a: 30"), &v), `line 1: cannot use "30" as an age`)
	require.ErrorContains(t, yaml.Unmarshal([]byte("a: 3w"), &v), `line 1: invalid age "3w"`)
}
