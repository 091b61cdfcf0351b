package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/devstack"
	"github.com/logcollect/logcollect/internal/testenv"
)

// TestMain runs logcollect-dev instead of the tests when LOGCOLLECT_DEV_CHILD=1, on the ports
// in LOGCOLLECT_DEV_PORTS (JSON of devstack.Ports: tests never use the fixed ones), so that a
// test can signal a real process and close its stdout.
func TestMain(m *testing.M) {
	if os.Getenv("LOGCOLLECT_DEV_CHILD") == "1" {
		fs, cfg := flags(os.Stderr)
		if err := fs.Parse(os.Args[1:]); err != nil {
			os.Exit(2)
		}
		if err := json.Unmarshal([]byte(os.Getenv("LOGCOLLECT_DEV_PORTS")), &cfg.Ports); err != nil {
			fmt.Fprintln(os.Stderr, "LOGCOLLECT_DEV_PORTS:", err)
			os.Exit(2)
		}
		os.Exit(serve(*cfg, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The command line `make run` gives, and the environment it passes on.
func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want devstack.Config
	}{
		{
			name: "defaults",
			want: devstack.Config{Dir: "var", BinDir: "bin", Rate: 50},
		},
		{
			name: "make run EMBEDDED=1 PROMETHEUS=1",
			args: []string{"--dir", "var", "--bin", "bin", "--embedded", "--prometheus"},
			want: devstack.Config{Dir: "var", BinDir: "bin", Embedded: true, Prometheus: true, Rate: 50},
		},
		{
			name: "InfluxDB from the environment",
			env:  map[string]string{"INFLUX_URL": "http://127.0.0.1:8086", "INFLUX_BUCKET": "b", "INFLUX_TOKEN": "tok"},
			want: devstack.Config{Dir: "var", BinDir: "bin", Rate: 50, InfluxURL: "http://127.0.0.1:8086", InfluxBucket: "b", InfluxToken: "tok"},
		},
		{
			name: "flags win over the environment",
			args: []string{"-influx", "http://h:8086", "-rate=5", "-dir=/tmp/d"},
			env:  map[string]string{"INFLUX_URL": "http://127.0.0.1:8086"},
			want: devstack.Config{Dir: "/tmp/d", BinDir: "bin", Rate: 5, InfluxURL: "http://h:8086"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"INFLUX_URL", "INFLUX_BUCKET", "INFLUX_TOKEN"} {
				t.Setenv(k, tt.env[k])
			}
			var stderr bytes.Buffer
			fs, cfg := flags(&stderr)
			require.NoError(t, fs.Parse(tt.args))
			require.Equal(t, tt.want, *cfg)
			require.Empty(t, stderr.String())
		})
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string // substrings
	}{
		{name: "help", args: []string{"-h"}, code: 0, stderr: "Usage: logcollect-dev [flags]"},
		{name: "long help", args: []string{"--help"}, code: 0, stderr: "(env INFLUX_URL)"},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, stderr: "flag provided but not defined: -nope"},
		{name: "argument", args: []string{"run"}, code: 2, stderr: `logcollect-dev: unexpected argument "run"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tt.code, logcollectDev(tt.args, &stdout, &stderr), stderr.String())
			require.Contains(t, stdout.String(), tt.stdout)
			require.Contains(t, stderr.String(), tt.stderr)
		})
	}
}

// An error of the stack is printed once, prefixed with the command's name, with status 1;
// here the state of a stack on the other Kafka, refused before anything starts.
func TestStartError(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kafka-mode"), []byte("kafka\n"), 0o644))
	var stdout, stderr bytes.Buffer
	code := logcollectDev([]string{"--dir", dir, "--bin", t.TempDir(), "--embedded"}, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Equal(t, "starting the local stack…\n", stdout.String())
	require.Regexp(t, `^logcollect-dev: devstack: .* holds the state of a stack on kafka, not kfake`, stderr.String())
	require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one error line")
}

// The environment variables the README's quick start sets for `make run` are read by
// logcollect-dev (cmd/logctl's TestReadmeQuickStart dry-runs the make commands).
func TestReadmeQuickStartEnv(t *testing.T) {
	var help, stdout bytes.Buffer
	require.Equal(t, 0, logcollectDev([]string{"-h"}, &stdout, &help))
	var envs int
	for _, c := range testenv.QuickStart(t) {
		for _, e := range c.Env {
			envs++
			name, _, _ := strings.Cut(e, "=")
			require.Contains(t, help.String(), "(env "+name+")", "%s: logcollect-dev does not read %s", c, name)
		}
	}
	require.Positive(t, envs, "the quick start sets no environment variable: nothing checked")
}
