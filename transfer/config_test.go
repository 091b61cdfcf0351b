package transfer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/etcdclient"
	"github.com/logcollect/logcollect/internal/kafkaclient"
	"github.com/logcollect/logcollect/pipeline"
)

func TestSampleConfig(t *testing.T) {
	c, err := LoadConfig("testdata/transfer.yaml")
	require.NoError(t, err)
	one := 1
	id := defaultInstanceID("127.0.0.1:9102")
	want := Config{
		Kafka: KafkaConfig{
			Config: kafkaclient.Config{Brokers: []string{"127.0.0.1:9092"}, ClientID: "logtransfer"}, Group: "logtransfer",
			StartOffset: "earliest", Topics: []string{"nginx-access", "app-log"}, TopicRegex: "^logs-.*",
			SessionTimeout: config.Duration(45 * time.Second), FetchMaxBytes: 1 << 20, InstanceID: &id,
		},
		Etcd: EtcdConfig{Config: etcdclient.Config{Endpoints: []string{}, DialTimeout: config.Duration(5 * time.Second)}, TopicsKey: "/logtransfer/topics", PipelinesKey: "/logtransfer/pipelines"},
		Elasticsearch: ElasticsearchConfig{
			URLs: []string{"http://127.0.0.1:9200"}, Timeout: config.Duration(30 * time.Second),
		},
		Index: "{topic}-{yyyy.MM.dd}",
		Bulk: BulkConfig{
			Actions: 5000, Bytes: 5 << 20, FlushInterval: config.Duration(time.Second), Workers: 1,
			RetryBackoff: config.Duration(100 * time.Millisecond), RetryMaxBackoff: config.Duration(30 * time.Second),
		},
		DLQ:             DLQConfig{Topic: "{topic}.dlq"},
		Template:        TemplateConfig{Name: "logtransfer", IndexPatterns: []string{"*-*"}, Priority: 200, Shards: 1, Replicas: &one},
		Retention:       RetentionConfig{Interval: config.Duration(time.Hour)},
		Metrics:         MetricsConfig{Listen: "127.0.0.1:9102"},
		Log:             config.LogConfig{Level: "info", Format: "text"},
		ShutdownTimeout: config.Duration(30 * time.Second),
		Pipelines:       []pipeline.Config{},
	}
	require.Equal(t, want, c)
}

// The sample's values are the defaults (except those marked "example"):
// a minimal config must validate to the same values.
func TestConfigDefaults(t *testing.T) {
	c := Config{
		Kafka:         KafkaConfig{Config: kafkaclient.Config{Brokers: []string{"127.0.0.1:9092"}}, Topics: []string{"nginx-access", "app-log"}, TopicRegex: "^logs-.*"},
		Elasticsearch: ElasticsearchConfig{URLs: []string{"http://127.0.0.1:9200"}},
		Etcd:          EtcdConfig{Config: etcdclient.Config{Endpoints: []string{}}},
		Template:      TemplateConfig{IndexPatterns: []string{"*-*"}},
		Pipelines:     []pipeline.Config{},
	}
	require.NoError(t, c.Validate())
	sample, err := LoadConfig("testdata/transfer.yaml")
	require.NoError(t, err)
	require.Equal(t, sample, c)

	c = Config{Kafka: KafkaConfig{Config: kafkaclient.Config{Brokers: []string{"b:1"}}, Topics: []string{"t"}}, Elasticsearch: ElasticsearchConfig{URLs: []string{"http://es:9200"}}, Index: "{topic}"}
	require.NoError(t, c.Validate())
	require.Equal(t, []string{"t"}, c.Template.IndexPatterns)
	require.NoError(t, c.Validate(), "Validate is idempotent")
}

// kafka.instance_id: unset, one per host and metrics address (two instances
// on one host never share one); "" is off; a name Kafka refuses is an error.
func TestInstanceID(t *testing.T) {
	defer func(h func() (string, error)) { hostname = h }(hostname)
	hostname = func() (string, error) { return "web-1.example.com", nil }
	for _, tc := range []struct {
		name, yaml, listen, want, err string
	}{
		{name: "default", listen: "127.0.0.1:9102", want: "web-1.example.com-127.0.0.1-9102"},
		{name: "default, all interfaces", listen: ":9102", want: "web-1.example.com-9102"},
		{name: "default, IPv6", listen: "[::1]:9102", want: "web-1.example.com-1-9102"},
		{name: "default, random port: off", listen: "127.0.0.1:0", want: ""},
		{name: "set", yaml: "instance_id: transfer-a", listen: "127.0.0.1:9102", want: "transfer-a"},
		{name: "off", yaml: `instance_id: ""`, listen: "127.0.0.1:9102", want: ""},
		{name: "refused", yaml: "instance_id: a/b", listen: "127.0.0.1:9102", err: `kafka.instance_id "a/b": want 1 to 249 of [a-zA-Z0-9._-]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, "kafka:\n  brokers: [b:1]\n  topics: [t]\n  %s\nelasticsearch:\n  urls: [http://es:9200]\nmetrics:\n  listen: %q\n", tc.yaml, tc.listen), 0o644))
			c, err := LoadConfig(path)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, *c.Kafka.InstanceID)
		})
	}
	hostname = func() (string, error) { return "", errors.New("no name") }
	require.Empty(t, defaultInstanceID("127.0.0.1:9102"), "no host name: off")
}

// The default index patterns are those of logtransfer's indices alone when
// the topics are known, so that the template overlaps no engine's built-in
// ones (logs-*-*, .monitoring-*).
func TestDefaultIndexPatterns(t *testing.T) {
	tests := []struct {
		name, index, regex string
		topics, etcd, want []string
	}{
		{name: "default index", topics: []string{"nginx", "App-Log"}, want: []string{"nginx-*", "app-log-*"}},
		{name: "one index per topic", index: "{topic}", topics: []string{"nginx"}, want: []string{"nginx"}},
		{name: "prefix and hours", index: "logs-{topic}-{yy.MM.dd.HH}", topics: []string{"a", "b"}, want: []string{"logs-a-*", "logs-b-*"}},
		{name: "duplicate topics", topics: []string{"a", "a"}, want: []string{"a-*"}},
		{name: "topic regex", topics: []string{"a"}, regex: "^b-.*", want: []string{"*-*"}},
		{name: "etcd topics", topics: []string{"a"}, etcd: []string{"127.0.0.1:2379"}, want: []string{"*-*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Kafka: KafkaConfig{Config: kafkaclient.Config{Brokers: []string{"b:1"}}, Topics: tt.topics, TopicRegex: tt.regex},
				Etcd: EtcdConfig{Config: etcdclient.Config{Endpoints: tt.etcd}}, Elasticsearch: ElasticsearchConfig{URLs: []string{"http://es:9200"}}, Index: tt.index}
			require.NoError(t, c.Validate())
			require.Equal(t, tt.want, c.Template.IndexPatterns)
			require.Equal(t, 200, c.Template.Priority)
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	const base = "kafka: {brokers: [\"127.0.0.1:9092\"], topics: [t]}\nelasticsearch: {urls: [\"http://127.0.0.1:9200\"]}\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown key", base + "bulk: {action: 1}\n", []string{"line 3: field action not found"}},
		{"bare duration", base + "bulk: {flush_interval: 10}\n", []string{"cannot use number 10 as a duration"}},
		{"second document", base + "---\nindex: x\n", []string{"a second YAML document is not allowed"}},
		{"no brokers, topics, urls", "index: '{topic}'\n", []string{
			"kafka.brokers: at least one broker is required",
			"kafka.topics: set kafka.topics, kafka.topic_regex or both (or etcd.endpoints)",
			"elasticsearch.urls: at least one URL is required",
		}},
		{"bad values", `kafka:
  brokers: ["nohost"]
  topics: ["bad topic"]
  topic_regex: "("
  start_offset: newest
  session_timeout: -1s
  fetch_max_bytes: -1
  sasl: {mechanism: PLAIN}
  tls: {ca_file: /x}
elasticsearch:
  urls: ["127.0.0.1:9200"]
  password: p
index: "{Topic}-{yyyy.MM.dd}"
bulk: {actions: -1, bytes: -1, workers: -2, flush_interval: -1s, retry_backoff: 2s, retry_max_backoff: 1s}
dlq: {topic: "{topic}.{x}"}
template: {shards: -1, replicas: -1, priority: -1}
metrics: {listen: nope}
log: {level: loud, format: xml}
shutdown_timeout: -1s
`, []string{
			`kafka.brokers[0] "nohost": must be host:port`,
			"kafka.sasl.username: required with mechanism PLAIN",
			"kafka.tls.ca_file: set but kafka.tls.enabled is false",
			`kafka.start_offset "newest": must be earliest or latest`,
			"kafka.session_timeout -1s: must be > 0",
			"kafka.fetch_max_bytes -1: must be > 0 and < 2 GiB",
			`kafka.topics[0] "bad topic": not a valid topic name`,
			"kafka.topic_regex: error parsing regexp",
			`elasticsearch.urls[0] "127.0.0.1:9200": must be http(s)://host:port`,
			"elasticsearch.username: required when elasticsearch.password is set",
			`index "{Topic}-{yyyy.MM.dd}": unknown placeholder {Topic}`,
			"bulk.actions -1: must be > 0",
			"bulk.bytes -1: must be > 0",
			"bulk.flush_interval -1s: must be > 0",
			"bulk.workers -2: must be > 0",
			"bulk.retry_max_backoff 1s: must be >= bulk.retry_backoff",
			`dlq.topic "{topic}.{x}": unknown placeholder {x}`,
			"template.shards -1: must be > 0",
			"template.priority -1: must be >= 0",
			"template.replicas -1: must be >= 0",
			`metrics.listen "nope": must be host:port`,
			`log.level "loud"`,
			`log.format "xml"`,
			"shutdown_timeout -1s: must be > 0",
		}},
		{"etcd", "kafka: {brokers: [\"b:1\"], topic_regex: x}\nelasticsearch: {urls: [\"http://es:9200\"]}\netcd: {endpoints: [\"ftp://e:1\"], topics_key: topics, dial_timeout: -1s}\n",
			[]string{
				"etcd.endpoints: topics from etcd cannot be combined with kafka.topic_regex",
				`etcd.topics_key "topics": must start with /`,
				`etcd.endpoints[0] "ftp://e:1": scheme "ftp"`,
				"etcd.dial_timeout -1s: must be > 0",
			}},
		{"pipelines", "kafka: {brokers: [\"b:1\"], topics: [t]}\nelasticsearch: {urls: [\"http://es:9200\"]}\netcd: {pipelines_key: /logtransfer/topics}\n" +
			"pipelines:\n  - name: web\n    topics: [t]\n    processors:\n      - set: {fields: {a: 1}}\n      - rename: {fields: {}}\n",
			[]string{
				"pipelines: pipeline web: processors[1] (rename): fields: at least one from: to pair is required",
				`etcd.pipelines_key "/logtransfer/topics": must differ from etcd.topics_key`,
			}},
		{"pipeline of an unknown type", "kafka: {brokers: [\"b:1\"], topics: [t]}\nelasticsearch: {urls: [\"http://es:9200\"]}\netcd: {pipelines_key: pipelines}\n" +
			"pipelines: [{name: web, topics: [t], processors: [{nope: {}}]}]\n",
			[]string{
				`pipelines: pipeline web: processors[0] (nope): unknown processor type "nope"`,
				`etcd.pipelines_key "pipelines": must start with /`,
			}},
		{"fetch too large for Kafka's int32", "kafka: {brokers: [\"b:1\"], topics: [t], fetch_max_bytes: 2147483648}\nelasticsearch: {urls: [\"http://es:9200\"]}\n",
			[]string{"kafka.fetch_max_bytes 2147483648: must be > 0 and < 2 GiB"}},
		{"retention too short", "kafka: {brokers: [\"b:1\"], topics: [t]}\nelasticsearch: {urls: [\"http://es:9200\"]}\nretention: {max_age: 30m, interval: -1s}\n",
			[]string{`retention.max_age "30m0s": must be at least 1h`, "retention.interval -1s: must be > 0"}},
		{"retention without a date in the index", "kafka: {brokers: [\"b:1\"], topics: [t]}\nelasticsearch: {urls: [\"http://es:9200\"]}\nindex: \"{topic}\"\nretention: {max_age: 30d}\n",
			[]string{`retention.max_age "30d": index "{topic}" has no date placeholder`}},
		{"retention age without unit", "kafka: {brokers: [\"b:1\"], topics: [t]}\nelasticsearch: {urls: [\"http://es:9200\"]}\nretention: {max_age: 30}\n",
			[]string{`cannot use "30" as an age`}},
		{"api key and basic auth", "kafka: {brokers: [\"b:1\"], topic_regex: x}\nelasticsearch: {urls: [\"http://es:9200\"], username: u, api_key: k}\n",
			[]string{"elasticsearch.api_key: set api_key or username/password, not both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.yaml), 0o644))
			_, err := LoadConfig(path)
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

// The consumer's fetches are bounded by kafka.fetch_max_bytes alone, as a
// whole and per partition: not by the bulk settings, and not by kgo's
// defaults (50 MiB per fetch), which let the buffered fetch, decompressed,
// grow with the backlog and the partition count.
func TestFetchLimits(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fetch int
		want  int32
	}{
		{"default", 0, 1 << 20},
		{"set", 4 << 20, 4 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{
				Kafka:         KafkaConfig{Config: kafkaclient.Config{Brokers: []string{"127.0.0.1:1"}}, Topics: []string{"t"}, FetchMaxBytes: tt.fetch},
				Elasticsearch: ElasticsearchConfig{URLs: []string{"http://127.0.0.1:1"}},
				Bulk:          BulkConfig{Bytes: 50 << 20, Workers: 4},
			}
			tr, err := New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			require.NoError(t, err)
			defer tr.Close()
			for _, opt := range []any{kgo.FetchMaxBytes, kgo.FetchMaxPartitionBytes} {
				require.EqualValues(t, tt.want, tr.kcl.OptValue(opt))
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "none.yaml"))
	require.ErrorContains(t, err, "read config")
}
