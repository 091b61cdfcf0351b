package config

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestDurationUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		yaml    string
		want    Duration
		wantErr string
	}{
		{name: "seconds", json: `"10s"`, yaml: `10s`, want: Duration(10 * time.Second)},
		{name: "minutes", json: `"5m"`, yaml: `"5m"`, want: Duration(5 * time.Minute)},
		{name: "compound", json: `"1h30m"`, yaml: `1h30m`, want: Duration(90 * time.Minute)},
		{name: "milliseconds", json: `"10ms"`, yaml: `'10ms'`, want: Duration(10 * time.Millisecond)},
		{name: "negative parses", json: `"-1s"`, yaml: `-1s`, want: Duration(-time.Second)},
		{name: "json number", json: `10`, wantErr: `cannot unmarshal number 10 into Go value of type config.Duration`},
		{name: "json bool", json: `true`, wantErr: `cannot unmarshal bool true into Go value of type config.Duration`},
		{name: "json object", json: `{}`, wantErr: `cannot unmarshal object into Go value of type config.Duration`},
		{name: "json string without unit", json: `"10"`, wantErr: `cannot unmarshal string "10" into Go value of type config.Duration`},
		{name: "yaml number", yaml: `10`, wantErr: "line 1: cannot use number 10 as a duration: want a string such as 10s or 1h30m"},
		{name: "yaml float", yaml: `1.5`, wantErr: "line 1: cannot use number 1.5 as a duration"},
		{name: "yaml bool", yaml: `true`, wantErr: "line 1: cannot use bool true as a duration"},
		{name: "yaml sequence", yaml: `[1s]`, wantErr: "line 1: cannot use a sequence as a duration"},
		{name: "yaml quoted number", yaml: `"10"`, wantErr: `line 1: invalid duration: time: missing unit in duration "10"`},
		{name: "yaml bad unit", yaml: `10 seconds`, wantErr: `line 1: invalid duration: time: unknown unit " seconds" in duration "10 seconds"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.json != "" {
				var d Duration
				err := json.Unmarshal([]byte(tt.json), &d)
				if tt.wantErr != "" {
					require.ErrorContains(t, err, tt.wantErr)
				} else {
					require.NoError(t, err)
					require.Equal(t, tt.want, d)
				}
			}
			if tt.yaml != "" {
				var v struct{ D Duration }
				err := yaml.Unmarshal([]byte("d: "+tt.yaml), &v)
				if tt.wantErr != "" {
					require.ErrorContains(t, err, tt.wantErr)
				} else {
					require.NoError(t, err)
					require.Equal(t, tt.want, v.D)
				}
			}
		})
	}
}

func TestDurationNull(t *testing.T) {
	d := Duration(time.Second)
	require.NoError(t, json.Unmarshal([]byte(`null`), &d))
	require.Equal(t, Duration(time.Second), d)

	var v struct{ D Duration }
	require.NoError(t, yaml.Unmarshal([]byte("d:"), &v))
	require.Zero(t, v.D)
}

func TestDurationMarshal(t *testing.T) {
	d := Duration(90 * time.Minute)
	require.Equal(t, 90*time.Minute, d.D())
	require.Equal(t, "1h30m0s", d.String())

	j, err := json.Marshal(struct{ D Duration }{d})
	require.NoError(t, err)
	require.JSONEq(t, `{"D":"1h30m0s"}`, string(j))
	var fromJSON struct{ D Duration }
	require.NoError(t, json.Unmarshal(j, &fromJSON))
	require.Equal(t, d, fromJSON.D)

	y, err := yaml.Marshal(struct{ D Duration }{d})
	require.NoError(t, err)
	require.Equal(t, "d: 1h30m0s\n", string(y))
	var fromYAML struct{ D Duration }
	require.NoError(t, yaml.Unmarshal(y, &fromYAML))
	require.Equal(t, d, fromYAML.D)
}
