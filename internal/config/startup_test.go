package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

type startupConfig struct{ A, B string }

func TestStartup(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("a: from-file\nb: file\n"), 0o600))
	noA := filepath.Join(t.TempDir(), "no-a.yaml")
	require.NoError(t, os.WriteFile(noA, []byte("b: file\n"), 0o600))
	s := Startup[startupConfig]{
		Version: "v1", Revision: "abc",
		Read: func(path string) (startupConfig, error) {
			var c startupConfig
			return c, Load(path, &c)
		},
		Validate: func(c *startupConfig) error {
			if c.A == "" {
				return errors.New("a: required")
			}
			SetDefault(&c.B, "default")
			return nil
		},
		Summary: func(c *startupConfig) string { return c.A + " " + c.B },
	}
	tests := []struct {
		name    string
		args    []string
		run     bool
		want    startupConfig
		out     string
		wantErr string
	}{
		{name: "version", args: []string{"-version", "-a", "x"}, out: "prog v1 (revision abc)\n"},
		{name: "file", args: []string{"-config", file}, run: true, want: startupConfig{"from-file", "file"}},
		{name: "flag over file", args: []string{"-config", file, "-a", "flag"}, run: true, want: startupConfig{"flag", "file"}},
		{name: "flags alone, defaults", args: []string{"-a", "flag"}, run: true, want: startupConfig{"flag", "default"}},
		{name: "check-config", args: []string{"-a", "flag", "-check-config"}, out: "config ok: flag default\n"},
		{name: "invalid without file", args: nil, wantErr: "config: a: required"},
		{name: "empty flag keeps the file", args: []string{"-config", file, "-a", ""}, run: true, want: startupConfig{"from-file", "file"}},
		{name: "invalid with file", args: []string{"-config", noA}, wantErr: "config " + noA + ": a: required"},
		{name: "missing file", args: []string{"-config", file + ".nope"}, wantErr: "read config: open " + file + ".nope"},
		{name: "bad flag", args: []string{"-nope"}, wantErr: "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg startupConfig
			fl := NewFlags("prog")
			fl.fs.SetOutput(&bytes.Buffer{})
			fl.String("a", "", &cfg.A)
			var out bytes.Buffer
			run, err := s.Run(fl, tt.args, &cfg, &out)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.False(t, run)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.run, run)
			require.Equal(t, tt.out, out.String())
			if tt.run {
				require.Equal(t, tt.want, cfg)
			}
		})
	}
}
