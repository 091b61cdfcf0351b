package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/config"
)

// TestFileConfigSysmon: the sysmon section of logagent's file is validated
// with sysmon's rules, its problems named under sysmon. and never showing a
// secret; its host defaults to host.name; without it, sysmon is off.
func TestFileConfigSysmon(t *testing.T) {
	const base = "kafka:\n  brokers: [\"k:9092\"]\nhost:\n  name: web-7\n"
	tests := []struct {
		name, yaml string
		wantErr    string // "" for a valid config
		wantHost   string // sysmon's host when valid; "" for no sysmon
	}{
		{name: "no sysmon section", yaml: base},
		{name: "host from host.name", yaml: base + "sysmon:\n  interval: 5s\n", wantHost: "web-7"},
		{name: "own host", yaml: base + "sysmon:\n  host: db-1\n", wantHost: "db-1"},
		{name: "bad url, password hidden", yaml: base + "sysmon:\n  influx:\n    url: ftp://u:S3CRET-pw@influx:8086\n    bucket: b\n",
			wantErr: `sysmon.influx.url "ftp://u:xxxxx@influx:8086": scheme must be http or https`},
		{name: "unknown key", yaml: base + "sysmon:\n  intervl: 5s\n", wantErr: "line 6: field intervl not found"},
		{name: "agent and sysmon errors together", yaml: "kafka:\n  brokers: []\nsysmon:\n  interval: 1us\n",
			wantErr: "kafka.brokers: at least one broker is required\nsysmon.interval 1µs: must be >= 1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.yaml), 0o600))
			c, err := config.LoadValidated(path, config.Read[fileConfig], (*fileConfig).validate)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "S3CRET")
				return
			}
			require.NoError(t, err)
			if tt.wantHost == "" {
				require.Nil(t, c.Sysmon)
				return
			}
			require.NotNil(t, c.Sysmon)
			require.Equal(t, tt.wantHost, c.Sysmon.Host)
		})
	}
}
