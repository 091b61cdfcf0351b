package sysmon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSampleConfig loads testdata/sysmon.yaml, the documented sample.
func TestSampleConfig(t *testing.T) {
	for _, k := range []string{"DC", "INFLUX_URL", "INFLUX_TOKEN"} {
		t.Setenv(k, "")
	}
	t.Setenv("INFLUX_TOKEN", "admin:secret")
	c, err := LoadConfig(filepath.Join("testdata", "sysmon.yaml"))
	require.NoError(t, err)

	want := FileConfig{
		Config: Config{
			Interval: Duration(10 * time.Second),
			Tags:     map[string]string{"dc": "eu-west-1", "role": "web"},
			Influx: InfluxConfig{
				URL: "http://127.0.0.1:8086", Bucket: "telegraf/autogen", Token: "admin:secret",
				BatchSize: 5000, Timeout: Duration(10 * time.Second), MaxRetryDelay: Duration(30 * time.Second),
				MaxBufferedPoints: 100_000,
			},
			Disk: DiskConfig{
				MountPoints:       []string{},
				IgnoreMountPoints: []string{"/var/lib/docker/*", "/snap/*"},
				IgnoreFS:          DefaultIgnoreFS,
			},
			DiskIO:          DiskIOConfig{Devices: []string{}, IgnoreDevices: []string{"loop*", "ram*"}},
			Net:             NetConfig{Interfaces: []string{}, IgnoreInterfaces: []string{"veth*", "docker*"}},
			ShutdownTimeout: Duration(10 * time.Second),
		},
		Metrics: MetricsConfig{Listen: "127.0.0.1:9103"},
		Log:     LogConfig{Level: "info", Format: "text"},
	}
	require.Equal(t, want, c)
}

// TestSampleConfigDefaults: the values the sample shows are the defaults, so an empty
// config with the required keys validates to the same thing.
func TestSampleConfigDefaults(t *testing.T) {
	c := writeLoad(t, "influx:\n  url: http://127.0.0.1:8086\n  bucket: telegraf/autogen\n")
	sample, err := ReadConfig(filepath.Join("testdata", "sysmon.yaml"))
	require.NoError(t, err)
	require.NoError(t, sample.Validate())
	require.Equal(t, sample.Interval, c.Interval)
	require.Equal(t, sample.Influx.BatchSize, c.Influx.BatchSize)
	require.Equal(t, sample.Influx.Timeout, c.Influx.Timeout)
	require.Equal(t, sample.Influx.MaxRetryDelay, c.Influx.MaxRetryDelay)
	require.Equal(t, sample.Influx.MaxBufferedPoints, c.Influx.MaxBufferedPoints)
	require.Equal(t, sample.CPU, c.CPU)
	require.Equal(t, sample.Disk.IgnoreFS, c.Disk.IgnoreFS)
	require.Equal(t, sample.DiskIO.IgnoreDevices, c.DiskIO.IgnoreDevices)
	require.Equal(t, sample.ShutdownTimeout, c.ShutdownTimeout)
	require.Equal(t, sample.Metrics, c.Metrics)
	require.Equal(t, sample.Log, c.Log)
}

func writeLoad(t *testing.T, yamlText string) FileConfig {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sysmon.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yamlText), 0o644))
	c, err := LoadConfig(path)
	require.NoError(t, err)
	return c
}

func TestConfigErrors(t *testing.T) {
	const base = "influx:\n  url: http://127.0.0.1:8086\n  bucket: b\n"
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{name: "url without bucket", yaml: "influx:\n  url: http://h:1\n", want: []string{"influx.bucket: required"}},
		{name: "unknown key", yaml: base + "intervall: 5s\n", want: []string{"line 4: field intervall not found"}},
		{name: "unknown nested key", yaml: base + "cpu:\n  percpu: true\n", want: []string{"line 5: field percpu not found"}},
		{name: "bare number duration", yaml: base + "interval: 10\n", want: []string{"line 4: cannot use number 10 as a duration"}},
		{name: "bad url", yaml: "influx:\n  url: 127.0.0.1:8086\n  bucket: b\n", want: []string{`influx.url "127.0.0.1:8086"`}},
		{name: "ftp url", yaml: "influx:\n  url: ftp://h:1\n  bucket: b\n", want: []string{`influx.url "ftp://h:1": scheme must be http or https`}},
		{name: "negative buffer", yaml: "influx:\n  url: http://h:1\n  bucket: b\n  max_buffered_points: -1\n", want: []string{"influx.max_buffered_points -1: must be > 0"}},
		{name: "negative batch", yaml: "influx:\n  url: http://h:1\n  bucket: b\n  batch_size: -5\n", want: []string{"influx.batch_size -5: must be > 0"}},
		{name: "tls on an http url", yaml: base + "  tls:\n    enabled: true\n", want: []string{"influx.tls.enabled: set but influx.url is not https://"}},
		{name: "tls option without enabled", yaml: "influx:\n  url: https://h:1\n  bucket: b\n  tls:\n    ca_file: ca.pem\n", want: []string{"influx.tls.ca_file: set but influx.tls.enabled is false"}},
		{name: "tls cert without key", yaml: "influx:\n  url: https://h:1\n  bucket: b\n  tls:\n    enabled: true\n    cert_file: c.pem\n", want: []string{"influx.tls.cert_file: cert_file and key_file must be set together"}},
		{name: "tiny interval", yaml: base + "interval: 1us\n", want: []string{"interval 1µs: must be >= 1ms"}},
		{name: "bad glob", yaml: base + "net:\n  interfaces: [\"eth[\"]\n", want: []string{`net.interfaces[0] "eth[": not a valid glob pattern`}},
		{name: "host tag in tags", yaml: base + "tags:\n  host: x\n", want: []string{`tags "host": tag key must not be empty or host`}},
		{name: "bad listen", yaml: base + "metrics:\n  listen: nowhere\n", want: []string{`metrics.listen "nowhere": must be host:port`}},
		{name: "bad log level", yaml: base + "log:\n  level: verbose\n", want: []string{`log.level "verbose": must be debug, info, warn or error`}},
		{name: "bad log format", yaml: base + "log:\n  format: xml\n", want: []string{`log.format "xml": must be text or json`}},
		{name: "unset variable", yaml: base + "host: ${SYSMON_TEST_UNSET}\n", want: []string{"line 4: environment variable SYSMON_TEST_UNSET is not set"}},
		{name: "unterminated reference", yaml: base + "host: ${OOPS\n", want: []string{"line 4: unterminated ${"}},
		{name: "bad variable name", yaml: base + "host: ${1X}\n", want: []string{`line 4: invalid variable reference "${1X}"`}},
		{name: "two documents", yaml: base + "---\ninterval: 5s\n", want: []string{"line 4: a second YAML document is not allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sysmon.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.yaml), 0o644))
			_, err := LoadConfig(path)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), "config "+path+": "), err.Error())
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestConfigWithoutInflux(t *testing.T) {
	c := writeLoad(t, "interval: 5s\n")
	require.False(t, c.Stores(), "no influx.url: nothing to store the samples in")
	require.Equal(t, Duration(5*time.Second), c.Interval)
	c = writeLoad(t, "influx:\n  url: http://h:1\n  bucket: b\n")
	require.True(t, c.Stores())
}

func TestExplicitEmptyListsTurnDefaultsOff(t *testing.T) {
	c := writeLoad(t, "influx:\n  url: http://h:1\n  bucket: b\ndisk:\n  ignore_fs: []\ndiskio:\n  ignore_devices: []\n")
	require.Empty(t, c.Disk.IgnoreFS)
	require.Empty(t, c.DiskIO.IgnoreDevices)
}
