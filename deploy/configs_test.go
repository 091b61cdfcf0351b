package deploy

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/ctl"
	"github.com/logcollect/logcollect/sysmon"
	"github.com/logcollect/logcollect/transfer"
)

// binaryConfig describes how one binary reads its config file.
type binaryConfig struct {
	defaultPort int // metrics port, as the README and prometheus.yml use it
	// load reads and validates the file at path with the binary's own
	// loader, as `-check-config` does.
	load func(path string) (loadedConfig, error)
}

// loadedConfig is what the deployment files must agree with in a config.
type loadedConfig struct {
	listen   string        // metrics.listen
	shutdown time.Duration // shutdown_timeout: how long SIGTERM may take
	brokers  []string      // kafka.brokers; nil for sysmon
	config   any           // agent.Config, transfer.Config or sysmon.FileConfig
}

// binaries maps each daemon to its config loader.
var binaries = map[string]binaryConfig{
	"logagent": {9101, func(path string) (loadedConfig, error) {
		c, err := agent.LoadConfig(path)
		return loadedConfig{c.Metrics.Listen, c.ShutdownTimeout.D(), c.Kafka.Brokers, c}, err
	}},
	"logtransfer": {9102, func(path string) (loadedConfig, error) {
		c, err := transfer.LoadConfig(path)
		return loadedConfig{c.Metrics.Listen, c.ShutdownTimeout.D(), c.Kafka.Brokers, c}, err
	}},
	"sysmon": {9103, func(path string) (loadedConfig, error) {
		c, err := sysmon.LoadConfig(path)
		return loadedConfig{c.Metrics.Listen, c.ShutdownTimeout.D(), nil, c}, err
	}},
}

// loadWithEnv loads path as binary's config with exactly the variables of
// env set among those the file references, so that a variable the file
// needs and env lacks is an error, as it would be for the daemon.
func loadWithEnv(t *testing.T, binary, path string, env map[string]string) (loadedConfig, error) {
	t.Helper()
	b, ok := binaries[binary]
	require.Truef(t, ok, "unknown binary %q", binary)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, name := range referencedVars(data) {
		if v, ok := env[name]; ok {
			t.Setenv(name, v)
		} else {
			t.Setenv(name, "") // t.Setenv restores it after the test
			require.NoError(t, os.Unsetenv(name))
		}
	}
	return b.load(path)
}

// referencedVars lists the NAME of every ${NAME} and ${NAME:-default} in
// data.
func referencedVars(data []byte) []string {
	var names []string
	for _, part := range strings.Split(string(data), "${")[1:] {
		end := strings.IndexAny(part, ":}")
		if end > 0 {
			names = append(names, part[:end])
		}
	}
	return names
}

// listenPort is the port of a metrics.listen address.
func listenPort(t *testing.T, listen string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(listen)
	require.NoError(t, err, listen)
	n, err := strconv.Atoi(port)
	require.NoError(t, err, listen)
	return n
}

func TestExampleConfigsLoad(t *testing.T) {
	tests := []struct {
		name    string
		binary  string
		file    string
		env     map[string]string
		wantErr string // "" when the file must load
	}{
		{name: "agent defaults", binary: "logagent", file: "config/agent.yaml"},
		{name: "agent with SASL from the environment", binary: "logagent", file: "config/agent.yaml",
			env: map[string]string{"KAFKA_BROKER": "kafka-1.internal:9093", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
				"KAFKA_USERNAME": "logagent", "KAFKA_PASSWORD": "s3cret", "HOST_IP": "10.1.2.3"}},
		{name: "agent rejects a bad host ip", binary: "logagent", file: "config/agent.yaml",
			env: map[string]string{"HOST_IP": "not-an-ip"}, wantErr: "host.ip"},
		{name: "transfer defaults", binary: "logtransfer", file: "config/transfer.yaml"},
		{name: "transfer with basic auth", binary: "logtransfer", file: "config/transfer.yaml",
			env: map[string]string{"ES_URL": "https://es.internal:9200", "ES_USERNAME": "logtransfer", "ES_PASSWORD": "s3cret", "ES_REPLICAS": "1"}},
		{name: "transfer rejects a password without user", binary: "logtransfer", file: "config/transfer.yaml",
			env: map[string]string{"ES_PASSWORD": "s3cret"}, wantErr: "elasticsearch.username"},
		{name: "sysmon with token", binary: "sysmon", file: "config/sysmon.yaml",
			env: map[string]string{"INFLUX_TOKEN": "demo-token"}},
		{name: "sysmon refuses to start without token", binary: "sysmon", file: "config/sysmon.yaml",
			wantErr: "INFLUX_TOKEN is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loaded, err := loadWithEnv(t, tt.binary, tt.file, tt.env)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if tr, ok := loaded.config.(transfer.Config); ok {
				requireTopicsFromLogctl(t, tr, tt.file)
			}
			listen := loaded.listen
			require.Equal(t, binaries[tt.binary].defaultPort, listenPort(t, listen), "metrics port of %s", tt.file)
			host, _, _ := net.SplitHostPort(listen)
			require.Empty(t, host, "%s: metrics must listen on all interfaces to be scraped from another container", tt.file)
		})
	}
}

// requireTopicsFromLogctl: logctl config set and edit add a new task's
// topic to logtransfer's etcd topics key, by default ctl.DefaultTopicsKey;
// an example logtransfer follows that key, so that a log source added with
// logctl is indexed, not only shipped to Kafka.
func requireTopicsFromLogctl(t *testing.T, tr transfer.Config, where string) {
	t.Helper()
	require.NotEmptyf(t, tr.Etcd.Endpoints, "%s: logtransfer has no etcd: the topics logctl adds are not consumed", where)
	require.Equalf(t, ctl.DefaultTopicsKey, tr.Etcd.TopicsKey, "%s: etcd.topics_key is not the key logctl adds topics to", where)
}

// TestExampleConfigsCatchMistakes proves the loaders used above do fail on
// a broken copy of each example: a misspelt key must not ship.
func TestExampleConfigsCatchMistakes(t *testing.T) {
	tests := []struct {
		binary, file, old, new string
	}{
		{"logagent", "config/agent.yaml", "compression: zstd", "compresion: zstd"},
		{"logtransfer", "config/transfer.yaml", "start_offset: earliest", "start_offset: oldest"},
		{"sysmon", "config/sysmon.yaml", "interval: 10s", "interval: 10"},
	}
	for _, tt := range tests {
		t.Run(tt.binary, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			require.NoError(t, err)
			require.Contains(t, string(data), tt.old)
			broken := filepath.Join(t.TempDir(), filepath.Base(tt.file))
			require.NoError(t, os.WriteFile(broken, []byte(strings.Replace(string(data), tt.old, tt.new, 1)), 0o600))
			_, err = loadWithEnv(t, tt.binary, broken, map[string]string{"INFLUX_TOKEN": "t"})
			require.Error(t, err)
		})
	}
}

func TestCollectConfigParses(t *testing.T) {
	data, err := os.ReadFile("config/collect.json")
	require.NoError(t, err)
	tasks, err := collect.ParseTasks(data)
	require.NoError(t, err)
	require.NotEmpty(t, tasks)
	for _, task := range tasks {
		// The demo log generator writes under /var/log/demo, the volume the
		// logagent container reads.
		require.Truef(t, strings.HasPrefix(task.Path, "/var/log/demo/"), "task path %s is outside the demo log volume", task.Path)
	}
	_, err = collect.ParseTasks([]byte(strings.Replace(string(data), `"topic"`, `"topics"`, 1)))
	require.ErrorContains(t, err, "topics", "a misspelt field must be rejected")
}
