package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/etcdclient"
	"github.com/logcollect/logcollect/internal/kafkaclient"
)

// writeConfig writes a config file into a test directory and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.yaml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// kafkaBrokers is a Kafka config with brokers only.
func kafkaBrokers(brokers ...string) KafkaConfig {
	return KafkaConfig{ProducerConfig: kafkaclient.ProducerConfig{Config: kafkaclient.Config{Brokers: brokers}}}
}

// defaults is the config a file with only kafka.brokers gives.
func defaults(brokers ...string) Config {
	return Config{
		Kafka: KafkaConfig{ProducerConfig: kafkaclient.ProducerConfig{
			Config:      kafkaclient.Config{Brokers: brokers, ClientID: "logagent"},
			Compression: "zstd", Linger: Duration(10 * time.Millisecond),
			MaxBufferedRecords: 10000, MaxBufferedBytes: 16 << 20,
		}},
		Etcd:    EtcdConfig{Config: etcdclient.Config{DialTimeout: Duration(5 * time.Second)}, CollectKey: "/logagent/{ip}/collect_config"},
		DataDir: "/var/lib/logagent",
		Metrics: MetricsConfig{Listen: "127.0.0.1:9101"},
		Log:     LogConfig{Level: "info", Format: "text"},
		Files: FilesConfig{
			AllowedPaths:  []string{"/var/log/**"},
			ScanFrequency: Duration(10 * time.Second), CloseInactive: Duration(5 * time.Minute), CleanRemoved: Duration(24 * time.Hour),
		},
		Tasks:           []collect.Task{},
		ShutdownTimeout: Duration(30 * time.Second),
		MemoryLimit:     64 << 20,
	}
}

func TestLoadConfig(t *testing.T) {
	full := `
kafka:
  brokers: [kafka-1:9092, "10.0.0.2:9093"]
  client_id: agent-7
  compression: lz4
  linger: 50ms
  max_buffered_records: 500
  max_buffered_bytes: 1048576
  tls:
    enabled: true
    ca_file: /etc/ca.pem
    cert_file: /etc/cert.pem
    key_file: /etc/key.pem
    server_name: kafka.internal
  sasl:
    mechanism: SCRAM-SHA-512
    username: agent
    password: secret
  allowed_topics: ["web_*", app_log]
etcd:
  endpoints: ["etcd-1:2379", "https://etcd-2:2379"]
  dial_timeout: 2s
  collect_key: /logagent/{hostname}/{ip}/tasks
  username: root
  password: pw
  tls:
    enabled: true
    insecure_skip_verify: true
host:
  ip: 10.1.2.3
  name: web-1
data_dir: /data/logagent
metrics:
  listen: ":9200"
log:
  level: debug
  format: json
files:
  allowed_paths: ["/var/log/**", "/srv/*/logs/*.log"]
  scan_frequency: 1s
  close_inactive: 1m
  ignore_older: 48h
  clean_removed: 72h
shutdown_timeout: 1m
tasks:
  - path: /var/log/nginx/access.log
    topic: web_log
    exclude: ["*.gz"]
    fields: {env: prod, tier: 1}
`
	tests := []struct {
		name string
		yaml string
		want Config
	}{
		{name: "minimal", yaml: "kafka:\n  brokers: [\"127.0.0.1:9092\"]\n", want: defaults("127.0.0.1:9092")},
		{
			name: "zero values take defaults",
			yaml: "kafka:\n  brokers: [k:9092]\n  linger: 0s\n  client_id: \"\"\ndata_dir: \"\"\nfiles:\n  scan_frequency:\n",
			want: defaults("k:9092"),
		},
		{
			name: "full",
			yaml: full,
			want: Config{
				Kafka: KafkaConfig{
					ProducerConfig: kafkaclient.ProducerConfig{
						Config: kafkaclient.Config{
							Brokers: []string{"kafka-1:9092", "10.0.0.2:9093"}, ClientID: "agent-7",
							TLS:  config.TLSConfig{Enabled: true, CAFile: "/etc/ca.pem", CertFile: "/etc/cert.pem", KeyFile: "/etc/key.pem", ServerName: "kafka.internal"},
							SASL: kafkaclient.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "agent", Password: "secret"},
						},
						Compression: "lz4", Linger: Duration(50 * time.Millisecond), MaxBufferedRecords: 500, MaxBufferedBytes: 1 << 20,
					},
					AllowedTopics: []string{"web_*", "app_log"},
				},
				Etcd: EtcdConfig{
					Config: etcdclient.Config{
						Endpoints: []string{"etcd-1:2379", "https://etcd-2:2379"}, DialTimeout: Duration(2 * time.Second),
						Username: "root", Password: "pw", TLS: config.TLSConfig{Enabled: true, InsecureSkipVerify: true},
					},
					CollectKey: "/logagent/{hostname}/{ip}/tasks",
				},
				Host:    HostConfig{IP: "10.1.2.3", Name: "web-1"},
				DataDir: "/data/logagent",
				Metrics: MetricsConfig{Listen: ":9200"},
				Log:     LogConfig{Level: "debug", Format: "json"},
				Files: FilesConfig{
					AllowedPaths:  []string{"/var/log/**", "/srv/*/logs/*.log"},
					ScanFrequency: Duration(time.Second), CloseInactive: Duration(time.Minute),
					IgnoreOlder: Duration(48 * time.Hour), CleanRemoved: Duration(72 * time.Hour),
				},
				Tasks: []collect.Task{{
					Path: "/var/log/nginx/access.log", Topic: "web_log", Exclude: []string{"*.gz"},
					StartPosition: "end", Fields: map[string]string{"env": "prod", "tier": "1"}, MaxLineBytes: 1 << 20, Format: "json",
				}},
				ShutdownTimeout: Duration(time.Minute),
				MemoryLimit:     64 << 20,
			},
		},
		{
			name: "multiline task",
			yaml: `
kafka: {brokers: ["k:9092"]}
tasks:
  - path: /var/log/app/*.log
    topic: app_log
    multiline: {pattern: '^\s', match: after, timeout: 2s}
`,
			want: func() Config {
				c := defaults("k:9092")
				c.Tasks = []collect.Task{{
					Path: "/var/log/app/*.log", Topic: "app_log", StartPosition: "end", MaxLineBytes: 1 << 20, Format: "json",
					Multiline: &collect.Multiline{Pattern: `^\s`, Match: "after", MaxLines: 500, Timeout: Duration(2 * time.Second)},
				}}
				return c
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfig(writeConfig(t, tt.yaml))
			require.NoError(t, err)
			requireConfigEqual(t, tt.want, got)
		})
	}
}

// requireConfigEqual compares configs, tasks with Task.Equal (their compiled
// regexps differ).
func requireConfigEqual(t *testing.T, want, got Config) {
	t.Helper()
	require.Len(t, got.Tasks, len(want.Tasks))
	for i := range want.Tasks {
		require.True(t, want.Tasks[i].Equal(got.Tasks[i]), "task %d:\nwant %+v\ngot  %+v", i, want.Tasks[i], got.Tasks[i])
		if got.Tasks[i].Multiline != nil {
			require.NotNil(t, got.Tasks[i].Multiline.Regexp())
		}
		include, exclude := got.Tasks[i].LineFilters()
		require.Len(t, include, len(got.Tasks[i].IncludeLines))
		require.Len(t, exclude, len(got.Tasks[i].ExcludeLines))
	}
	want.Tasks, got.Tasks = nil, nil
	require.Equal(t, want, got)
}

func TestLoadConfigErrors(t *testing.T) {
	const brokers = "kafka:\n  brokers: [k:9092]\n"
	tests := []struct {
		name     string
		yaml     string
		wantErrs []string
	}{
		{name: "empty file", yaml: "", wantErrs: []string{"kafka.brokers: at least one broker is required"}},
		{name: "unknown top-level key", yaml: brokers + "kafak: {}\n", wantErrs: []string{"line 3: field kafak not found in type agent.Config"}},
		{name: "unknown nested key", yaml: brokers + "  lingr: 5ms\n", wantErrs: []string{"line 3: field lingr not found in type agent.KafkaConfig"}},
		{name: "unknown task key", yaml: brokers + "tasks:\n  - path: /a.log\n    topik: t\n", wantErrs: []string{"line 5: field topik not found in type collect.Task"}},
		{name: "duration as number", yaml: brokers + "  linger: 10\n", wantErrs: []string{"line 3: cannot use number 10 as a duration"}},
		{name: "bad duration", yaml: brokers + "shutdown_timeout: 10 seconds\n", wantErrs: []string{`line 3: invalid duration: time: unknown unit " seconds"`}},
		{name: "not a mapping", yaml: "- kafka\n", wantErrs: []string{"line 1: cannot unmarshal !!seq into agent.Config"}},
		{name: "two documents", yaml: brokers + "---\nlog: {level: info}\n", wantErrs: []string{"line 3: a second YAML document is not allowed"}},
		{name: "yaml syntax", yaml: "kafka:\n  brokers: [k:9092\n", wantErrs: []string{"yaml: line 1: did not find expected"}},
		{name: "no brokers", yaml: "kafka:\n  brokers: []\n", wantErrs: []string{"kafka.brokers: at least one broker is required"}},
		{name: "broker without port", yaml: "kafka:\n  brokers: [k:9092, kafka]\n", wantErrs: []string{`kafka.brokers[1] "kafka": must be host:port: missing port in address`}},
		{name: "broker without host", yaml: "kafka:\n  brokers: [\":9092\"]\n", wantErrs: []string{`kafka.brokers[0] ":9092": must be host:port: missing host`}},
		{name: "broker bad port", yaml: "kafka:\n  brokers: [\"k:kafka\"]\n", wantErrs: []string{`kafka.brokers[0] "k:kafka": must be host:port: invalid port "kafka"`}},
		{name: "broker port 0", yaml: "kafka:\n  brokers: [\"k:0\"]\n", wantErrs: []string{`invalid port "0"`}},
		{name: "compression", yaml: brokers + "  compression: brotli\n", wantErrs: []string{`kafka.compression "brotli": must be zstd, none, gzip, snappy or lz4`}},
		{name: "negative linger", yaml: brokers + "  linger: -1ms\n", wantErrs: []string{"kafka.linger -1ms: must be >= 0"}},
		{name: "negative buffered records", yaml: brokers + "  max_buffered_records: -1\n", wantErrs: []string{"kafka.max_buffered_records -1: must be > 0"}},
		{name: "negative buffered bytes", yaml: brokers + "  max_buffered_bytes: -1\n", wantErrs: []string{"kafka.max_buffered_bytes -1: must be > 0"}},
		{name: "sasl mechanism", yaml: brokers + "  sasl: {mechanism: GSSAPI, username: u}\n", wantErrs: []string{`kafka.sasl.mechanism "GSSAPI": must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`}},
		{name: "sasl without username", yaml: brokers + "  sasl: {mechanism: PLAIN}\n", wantErrs: []string{"kafka.sasl.username: required with mechanism PLAIN"}},
		{name: "sasl credentials without mechanism", yaml: brokers + "  sasl: {username: u, password: p}\n", wantErrs: []string{"kafka.sasl.mechanism: must be set when kafka.sasl.username or password is set"}},
		{name: "tls file without enabled", yaml: brokers + "  tls: {ca_file: /ca.pem}\n", wantErrs: []string{"kafka.tls.ca_file: set but kafka.tls.enabled is false"}},
		{name: "tls cert without key", yaml: brokers + "  tls: {enabled: true, cert_file: /c.pem}\n", wantErrs: []string{"kafka.tls.cert_file: cert_file and key_file must be set together"}},
		{name: "etcd endpoint without port", yaml: brokers + "etcd: {endpoints: [etcd]}\n", wantErrs: []string{`etcd.endpoints[0] "etcd": must be host:port: missing port in address`}},
		{name: "etcd endpoint scheme", yaml: brokers + "etcd: {endpoints: [\"ftp://etcd:2379\"]}\n", wantErrs: []string{`etcd.endpoints[0] "ftp://etcd:2379": scheme "ftp": must be http, https, unix or unixs`}},
		{name: "etcd dial timeout", yaml: brokers + "etcd: {dial_timeout: -1s}\n", wantErrs: []string{"etcd.dial_timeout -1s: must be > 0"}},
		{name: "etcd relative key", yaml: brokers + "etcd: {collect_key: logagent/x}\n", wantErrs: []string{`etcd.collect_key "logagent/x": must start with /`}},
		{name: "etcd unknown placeholder", yaml: brokers + "etcd: {collect_key: \"/logagent/{host}/x\"}\n", wantErrs: []string{`etcd.collect_key "/logagent/{host}/x": unknown placeholder {host}, want {ip} or {hostname}`}},
		{name: "etcd password without username", yaml: brokers + "etcd: {password: p}\n", wantErrs: []string{"etcd.username: required when etcd.password is set"}},
		{name: "etcd tls option without enabled", yaml: brokers + "etcd:\n  tls: {insecure_skip_verify: true}\n", wantErrs: []string{"etcd.tls.insecure_skip_verify: set but etcd.tls.enabled is false"}},
		{name: "host ip", yaml: brokers + "host: {ip: web-1}\n", wantErrs: []string{`host.ip "web-1": not an IP address`}},
		{name: "metrics listen", yaml: brokers + "metrics: {listen: \"9101\"}\n", wantErrs: []string{`metrics.listen "9101": must be host:port: missing port in address`}},
		{name: "log level", yaml: brokers + "log: {level: trace}\n", wantErrs: []string{`log.level "trace": must be debug, info, warn or error`}},
		{name: "log format", yaml: brokers + "log: {format: xml}\n", wantErrs: []string{`log.format "xml": must be text or json`}},
		{name: "files durations", yaml: brokers + "files: {scan_frequency: -1s, close_inactive: -1s, ignore_older: -1s, clean_removed: -1s}\n", wantErrs: []string{
			"files.scan_frequency -1s: must be >= 0", "files.close_inactive -1s: must be >= 0",
			"files.ignore_older -1s: must be >= 0", "files.clean_removed -1s: must be >= 0",
		}},
		{name: "allowed paths empty", yaml: brokers + "files: {allowed_paths: []}\n", wantErrs: []string{`files.allowed_paths: must not be empty (["/**"] allows every file)`}},
		{name: "allowed paths bad", yaml: brokers + "files: {allowed_paths: [var/log/**, \"/var/log/[\", /var/log/../etc/*, \"\"]}\n", wantErrs: []string{
			`files.allowed_paths[0] "var/log/**": must be absolute`, `files.allowed_paths[1] "/var/log/[": invalid glob`,
			`files.allowed_paths[2] "/var/log/../etc/*": must be clean (/var/etc/*)`, `files.allowed_paths[3] "": must not be empty`,
		}},
		{name: "allowed topics bad", yaml: "kafka: {brokers: [k:9092], allowed_topics: [\"app_[\", \"\"]}\n", wantErrs: []string{
			`kafka.allowed_topics[0] "app_[": invalid glob`, `kafka.allowed_topics[1] "": must not be empty`,
		}},
		{name: "shutdown timeout", yaml: brokers + "shutdown_timeout: -5s\n", wantErrs: []string{"shutdown_timeout -5s: must be > 0"}},
		{name: "bad task", yaml: brokers + "tasks:\n  - {path: /a.log, topic: t}\n  - {path: b.log, topic: t}\n", wantErrs: []string{`tasks: task 1 (path "b.log"): path: must be absolute`}},
		{name: "bad task multiline", yaml: brokers + "tasks:\n  - {path: /a.log, topic: t, multiline: {pattern: '(', match: after}}\n", wantErrs: []string{`tasks: task 0 (path "/a.log"): multiline.pattern "(": error parsing regexp`}},
		{name: "bad task include_lines", yaml: brokers + "tasks:\n  - {path: /a.log, topic: t, include_lines: ['^ERR', '[']}\n", wantErrs: []string{`tasks: task 0 (path "/a.log"): include_lines[1] "[": error parsing regexp: missing closing ]`}},
		{name: "bad task exclude_lines", yaml: brokers + "tasks:\n  - path: /a.log\n    topic: t\n    exclude_lines: ['']\n", wantErrs: []string{`tasks: task 0 (path "/a.log"): exclude_lines[0]: must not be empty`}},
		{name: "every problem is reported", yaml: "log: {level: trace}\nkafka: {compression: x}\n", wantErrs: []string{
			"kafka.brokers: at least one broker is required", `kafka.compression "x"`, `log.level "trace"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			_, err := LoadConfig(path)
			require.Error(t, err)
			require.ErrorContains(t, err, "config "+path+": ")
			for _, want := range tt.wantErrs {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorContains(t, err, "read config: open ")
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestReadConfigDoesNotValidate(t *testing.T) {
	c, err := ReadConfig(writeConfig(t, "log: {level: trace}\n"))
	require.NoError(t, err)
	require.Equal(t, Config{Log: LogConfig{Level: "trace"}}, c)

	path := writeConfig(t, "log: {levle: info}\n")
	_, err = ReadConfig(path)
	require.ErrorContains(t, err, "config "+path+": yaml: unmarshal errors:\n  line 1: field levle not found in type config.LogConfig")
}

func TestLoadConfigEnv(t *testing.T) {
	t.Setenv("LOGAGENT_TEST_BROKER", "kafka-9:9092")
	t.Setenv("LOGAGENT_TEST_EMPTY", "")
	path := writeConfig(t, `
kafka:
  brokers: ["${LOGAGENT_TEST_BROKER}"]
  client_id: "${LOGAGENT_TEST_EMPTY:-fallback}"
tasks:
  - path: /var/log/a.log
    topic: t
    multiline: {pattern: 'end$', match: before}
`)
	c, err := LoadConfig(path)
	require.NoError(t, err)
	require.Equal(t, []string{"kafka-9:9092"}, c.Kafka.Brokers)
	require.Equal(t, "fallback", c.Kafka.ClientID)
	require.Equal(t, "end$", c.Tasks[0].Multiline.Pattern)

	_, err = LoadConfig(writeConfig(t, "kafka:\n  brokers: [\"${LOGAGENT_TEST_UNSET_VARIABLE}\"]\n"))
	require.ErrorContains(t, err, "line 2: environment variable LOGAGENT_TEST_UNSET_VARIABLE is not set")
}

func TestConfigExpandCollectKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want string
	}{
		{name: "default", key: "", want: "/logagent/10.0.0.1/collect_config"},
		{name: "both placeholders twice", key: "/c/{hostname}/{ip}/{ip}", want: "/c/web-1/10.0.0.1/10.0.0.1"},
		{name: "no placeholder", key: "/c/all", want: "/c/all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Kafka: kafkaBrokers("k:9092"), Etcd: EtcdConfig{CollectKey: tt.key}}
			require.NoError(t, c.Validate())
			require.Equal(t, tt.want, c.ExpandCollectKey("10.0.0.1", "web-1"))
		})
	}
}

func TestConfigValidateIsIdempotent(t *testing.T) {
	c := Config{Kafka: kafkaBrokers("k:9092"), Tasks: []collect.Task{{Path: "/a.log", Topic: "t", Multiline: &collect.Multiline{Pattern: "^x", Match: "after"}}}}
	require.NoError(t, c.Validate())
	again := c
	require.NoError(t, again.Validate())
	requireConfigEqual(t, c, again)
}

// TestSampleConfig checks testdata/agent.yaml, the sample shipped to users:
// it loads, it mentions every key, and the values it shows are the defaults
// (except kafka.brokers and the example tasks).
func TestSampleConfig(t *testing.T) {
	t.Setenv("KAFKA_BROKER", "")
	const path = "testdata/agent.yaml"
	c, err := LoadConfig(path)
	require.NoError(t, err)

	sample, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, key := range yamlKeys(reflect.TypeFor[Config]()) {
		require.Contains(t, string(sample), key+":", "key %q is not documented in %s", key, path)
	}

	want := defaults("127.0.0.1:9092")
	want.Tasks = []collect.Task{
		{Path: "/var/log/nginx/access.log", Topic: "web_log"},
		{
			Path: "/var/log/app/*.log", Topic: "app_log", Exclude: []string{"*.gz", "/var/log/app/debug-*"},
			StartPosition: "beginning", Fields: map[string]string{"service": "app"},
			Multiline:    &collect.Multiline{Pattern: `^\d{4}-\d{2}-\d{2}`, Negate: true, Match: "after"},
			IncludeLines: []string{`^\S+ \S+ (ERROR|WARN|INFO) `}, ExcludeLines: []string{`(?i)health ?check`},
		},
	}
	require.Empty(t, c.Etcd.Endpoints)
	require.Empty(t, c.Kafka.AllowedTopics)
	c.Etcd.Endpoints, c.Kafka.AllowedTopics = nil, nil
	requireConfigEqual(t, want, c)
}

// yamlKeys returns the YAML key names of t's fields, recursively.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		keys = append(keys, name)
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			keys = append(keys, yamlKeys(ft)...)
		}
	}
	return keys
}
