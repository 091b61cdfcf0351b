package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type testConfig struct {
	Name    string   `yaml:"name"`
	Timeout Duration `yaml:"timeout"`
	Nested  struct {
		Port int `yaml:"port"`
	} `yaml:"nested"`
}

func TestDecode(t *testing.T) {
	env := map[string]string{"NAME": "web"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		yaml    string
		want    testConfig
		wantErr string
	}{
		{name: "empty", yaml: ""},
		{name: "values", yaml: "name: ${NAME}\ntimeout: 5s\n", want: testConfig{Name: "web", Timeout: Duration(5 * time.Second)}},
		{name: "unknown key", yaml: "name: a\nnmae: b\n", wantErr: "line 2: field nmae not found in type config.testConfig"},
		{name: "unknown nested key", yaml: "nested:\n  prot: 1\n", wantErr: "line 2: field prot not found"},
		{name: "second document", yaml: "name: a\n---\nname: b\n", wantErr: "line 2: a second YAML document is not allowed"},
		{name: "second empty document", yaml: "name: a\n---\n", wantErr: "a second YAML document is not allowed"},
		{name: "unset variable", yaml: "name: ${NOPE}\n", wantErr: "line 1: environment variable NOPE is not set"},
		{name: "number as duration", yaml: "timeout: 10\n", wantErr: "line 1: cannot use number 10 as a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got testConfig
			err := Decode([]byte(tt.yaml), lookup, &got)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("CONFIG_TEST_NAME", "db")
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte("name: ${CONFIG_TEST_NAME}\n"), 0o600))
	var c testConfig
	require.NoError(t, Load(path, &c))
	require.Equal(t, "db", c.Name)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: a\ntimeout: 1\n"), 0o600))
	err := Load(bad, &c)
	require.ErrorContains(t, err, "config "+bad+": yaml: unmarshal errors:\n  line 2: cannot use number 1 as a duration")

	err = Load(filepath.Join(dir, "missing.yaml"), &c)
	require.ErrorContains(t, err, "read config: open ")
	require.ErrorIs(t, err, os.ErrNotExist)
}
