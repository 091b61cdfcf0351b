package transfer

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/config"
)

// Config is the logtransfer configuration, read from a YAML file by
// LoadConfig. testdata/transfer.yaml documents every key with its default.
type Config struct {
	Kafka           KafkaConfig         `yaml:"kafka"`
	Etcd            EtcdConfig          `yaml:"etcd"`
	Elasticsearch   ElasticsearchConfig `yaml:"elasticsearch"`
	Index           string              `yaml:"index"` // default "{topic}-{yyyy.MM.dd}"
	Bulk            BulkConfig          `yaml:"bulk"`
	DLQ             DLQConfig           `yaml:"dlq"`
	Template        TemplateConfig      `yaml:"template"`
	Metrics         MetricsConfig       `yaml:"metrics"`
	Log             agent.LogConfig     `yaml:"log"`
	ShutdownTimeout agent.Duration      `yaml:"shutdown_timeout"` // default 30s
}

// KafkaConfig configures the consumer group (and the DLQ producer, which
// shares its client).
type KafkaConfig struct {
	Brokers     []string `yaml:"brokers"`      // host:port, at least one
	ClientID    string   `yaml:"client_id"`    // default "logtransfer"
	Group       string   `yaml:"group"`        // default "logtransfer"
	StartOffset string   `yaml:"start_offset"` // earliest (default) | latest: where a new group starts
	Topics      []string `yaml:"topics"`       // topics to consume; with or instead of topic_regex
	TopicRegex  string   `yaml:"topic_regex"`  // RE2, matched against whole topic names
	// SessionTimeout is how long the group waits for a silent member
	// (killed, partitioned) before giving its partitions to others.
	SessionTimeout agent.Duration `yaml:"session_timeout"` // default 45s
	// FetchMaxBytes caps one fetch response, in bytes as stored in Kafka
	// (compressed). The client buffers one fetch per broker ahead of the
	// batch in hand, decompressed, so this is what bounds logtransfer's
	// memory while a backlog is indexed; see fetchOpts.
	FetchMaxBytes int              `yaml:"fetch_max_bytes"` // default 1 MiB
	TLS           agent.TLSConfig  `yaml:"tls"`
	SASL          agent.SASLConfig `yaml:"sasl"`
}

// EtcdConfig optionally names an etcd key holding more topics to consume (a
// JSON list of names), watched so that new topics are consumed without a
// restart.
type EtcdConfig struct {
	Endpoints   []string        `yaml:"endpoints"`    // empty: no etcd
	DialTimeout agent.Duration  `yaml:"dial_timeout"` // default 5s
	Username    string          `yaml:"username"`
	Password    string          `yaml:"password"`
	TLS         agent.TLSConfig `yaml:"tls"`
	TopicsKey   string          `yaml:"topics_key"` // default "/logtransfer/topics"
}

// agentConfig is e as the agent's etcd config, for agent.NewEtcdClient and
// the agent's validation rules.
func (e EtcdConfig) agentConfig() agent.EtcdConfig {
	return agent.EtcdConfig{Endpoints: e.Endpoints, DialTimeout: e.DialTimeout, Username: e.Username, Password: e.Password, TLS: e.TLS}
}

// ElasticsearchConfig configures the olivere/elastic client.
type ElasticsearchConfig struct {
	URLs        []string       `yaml:"urls"` // http(s)://host:port, at least one
	Username    string         `yaml:"username"`
	Password    string         `yaml:"password"`
	APIKey      string         `yaml:"api_key"` // base64 "id:key", sent as "Authorization: ApiKey …"
	CAFile      string         `yaml:"ca_file"` // PEM CA bundle for https URLs; empty: the system roots
	Sniff       bool           `yaml:"sniff"`   // default false: talk to the URLs given only
	Healthcheck bool           `yaml:"healthcheck"`
	Timeout     agent.Duration `yaml:"timeout"` // default 30s: per request
}

// BulkConfig sizes the bulk requests.
type BulkConfig struct {
	Actions         int            `yaml:"actions"`           // default 5000 documents per request
	Bytes           int            `yaml:"bytes"`             // default 5 MiB per request
	FlushInterval   agent.Duration `yaml:"flush_interval"`    // default 1s
	Workers         int            `yaml:"workers"`           // default 1 concurrent request
	RetryBackoff    agent.Duration `yaml:"retry_backoff"`     // default 100ms: first wait before a retry
	RetryMaxBackoff agent.Duration `yaml:"retry_max_backoff"` // default 30s
}

// DLQConfig names the dead-letter topic.
type DLQConfig struct {
	Topic string `yaml:"topic"` // default "{topic}.dlq"
}

// TemplateConfig configures the index template installed at startup.
type TemplateConfig struct {
	Name          string   `yaml:"name"`           // default "logtransfer"
	IndexPatterns []string `yaml:"index_patterns"` // default: index with each {…} replaced by *
	Shards        int      `yaml:"shards"`         // default 1
	Replicas      *int     `yaml:"replicas"`       // default 1
	Overwrite     bool     `yaml:"overwrite"`      // replace an existing template
}

// MetricsConfig configures the Prometheus endpoint.
type MetricsConfig struct {
	Listen string `yaml:"listen"` // default "127.0.0.1:9102"
}

// LoadConfig reads the YAML config file at path, decodes it strictly (an
// unknown key is an error with its line number) and validates it.
func LoadConfig(path string) (Config, error) {
	return config.LoadValidated(path, ReadConfig, (*Config).Validate)
}

// ReadConfig is LoadConfig without Validate, for callers that override
// fields from flags and then call Validate. Environment variables are
// expanded as in every logcollect config (see internal/config).
func ReadConfig(path string) (Config, error) {
	var c Config
	if err := config.Load(path, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate sets defaults for unset fields, then checks the whole config. The
// error lists every problem, each prefixed by the field's path in the YAML
// file, such as `kafka.brokers: at least one broker is required`.
func (c *Config) Validate() error {
	c.setDefaults()
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	// bad reports a bad value as `field: "value": message`, showing the value as
	// config.ShowValue does: never a secret or a URL's password.
	bad := func(field string, value any, format string, args ...any) {
		add(field, "%v: %s", config.ShowValue(field, value), fmt.Sprintf(format, args...))
	}

	k := &c.Kafka
	// The broker list, TLS, SASL and the etcd client are checked by the
	// agent's rules, so that both binaries accept the same values with the
	// same messages.
	var shared config.Errors
	k.agentConfig().Validate(&shared)
	c.Etcd.agentConfig().ValidateClient(&shared)
	errs = append(errs, shared...)
	if !slices.Contains([]string{"earliest", "latest"}, k.StartOffset) {
		bad("kafka.start_offset", k.StartOffset, "must be earliest or latest")
	}
	if k.SessionTimeout < 0 {
		add("kafka.session_timeout", "%s: must be > 0", k.SessionTimeout)
	}
	if k.FetchMaxBytes < 0 || k.FetchMaxBytes > math.MaxInt32 {
		add("kafka.fetch_max_bytes", "%d: must be > 0 and < 2 GiB", k.FetchMaxBytes)
	}
	etcd := len(c.Etcd.Endpoints) > 0
	if len(k.Topics) == 0 && k.TopicRegex == "" && !etcd {
		add("kafka.topics", "set kafka.topics, kafka.topic_regex or both (or etcd.endpoints)")
	}
	if etcd && k.TopicRegex != "" {
		add("etcd.endpoints", "topics from etcd cannot be combined with kafka.topic_regex")
	}
	if !strings.HasPrefix(c.Etcd.TopicsKey, "/") {
		bad("etcd.topics_key", c.Etcd.TopicsKey, "must start with /")
	}
	for i, t := range k.Topics {
		if !validTopic(t) {
			bad(fmt.Sprintf("kafka.topics[%d]", i), t, "not a valid topic name")
		}
	}
	if k.TopicRegex != "" {
		if _, err := regexp.Compile(k.TopicRegex); err != nil {
			add("kafka.topic_regex", "%v", err)
		}
	}

	e := &c.Elasticsearch
	if len(e.URLs) == 0 {
		add("elasticsearch.urls", "at least one URL is required")
	}
	for i, u := range e.URLs {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad(fmt.Sprintf("elasticsearch.urls[%d]", i), u, "must be http(s)://host:port")
		}
	}
	if e.Password != "" && e.Username == "" {
		add("elasticsearch.username", "required when elasticsearch.password is set")
	}
	if e.APIKey != "" && e.Username != "" {
		add("elasticsearch.api_key", "set api_key or username/password, not both")
	}
	if e.Timeout < 0 {
		add("elasticsearch.timeout", "%s: must be > 0", e.Timeout)
	}

	if _, err := parseIndexTemplate(c.Index); err != nil {
		bad("index", c.Index, "%v", err)
	}
	if c.Bulk.Actions < 0 {
		add("bulk.actions", "%d: must be > 0", c.Bulk.Actions)
	}
	if c.Bulk.Bytes < 0 {
		add("bulk.bytes", "%d: must be > 0", c.Bulk.Bytes)
	}
	if c.Bulk.FlushInterval < 0 {
		add("bulk.flush_interval", "%s: must be > 0", c.Bulk.FlushInterval)
	}
	if c.Bulk.Workers < 0 {
		add("bulk.workers", "%d: must be > 0", c.Bulk.Workers)
	}
	if c.Bulk.RetryBackoff < 0 {
		add("bulk.retry_backoff", "%s: must be > 0", c.Bulk.RetryBackoff)
	}
	if c.Bulk.RetryMaxBackoff < c.Bulk.RetryBackoff {
		add("bulk.retry_max_backoff", "%s: must be >= bulk.retry_backoff", c.Bulk.RetryMaxBackoff)
	}
	if p := placeholder.FindString(strings.ReplaceAll(c.DLQ.Topic, "{topic}", "")); p != "" {
		bad("dlq.topic", c.DLQ.Topic, "unknown placeholder %s, want {topic}", p)
	} else if !validTopic(strings.ReplaceAll(c.DLQ.Topic, "{topic}", "t")) {
		bad("dlq.topic", c.DLQ.Topic, "not a valid topic name")
	}
	if c.Template.Shards < 0 {
		add("template.shards", "%d: must be > 0", c.Template.Shards)
	}
	if c.Template.Replicas != nil && *c.Template.Replicas < 0 {
		add("template.replicas", "%d: must be >= 0", *c.Template.Replicas)
	}
	if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
		bad("metrics.listen", c.Metrics.Listen, "must be host:port")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", c.Log.Level, "must be debug, info, warn or error")
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", c.Log.Format, "must be text or json")
	}
	if c.ShutdownTimeout < 0 {
		add("shutdown_timeout", "%s: must be > 0", c.ShutdownTimeout)
	}
	return errors.Join(errs...)
}

const defaultIndex = "{topic}-{yyyy.MM.dd}"

func (c *Config) setDefaults() {
	config.SetDefault(&c.Kafka.ClientID, "logtransfer")
	config.SetDefault(&c.Kafka.Group, "logtransfer")
	config.SetDefault(&c.Kafka.StartOffset, "earliest")
	config.SetDefault(&c.Kafka.SessionTimeout, agent.Duration(45*time.Second))
	config.SetDefault(&c.Kafka.FetchMaxBytes, 1<<20)
	config.SetDefault(&c.Etcd.DialTimeout, agent.Duration(5*time.Second))
	config.SetDefault(&c.Etcd.TopicsKey, "/logtransfer/topics")
	config.SetDefault(&c.Elasticsearch.Timeout, agent.Duration(30*time.Second))
	config.SetDefault(&c.Index, defaultIndex)
	config.SetDefault(&c.Bulk.Actions, 5000)
	config.SetDefault(&c.Bulk.Bytes, 5<<20)
	config.SetDefault(&c.Bulk.FlushInterval, agent.Duration(time.Second))
	config.SetDefault(&c.Bulk.Workers, 1)
	config.SetDefault(&c.Bulk.RetryBackoff, agent.Duration(100*time.Millisecond))
	config.SetDefault(&c.Bulk.RetryMaxBackoff, agent.Duration(30*time.Second))
	config.SetDefault(&c.DLQ.Topic, "{topic}.dlq")
	config.SetDefault(&c.Template.Name, "logtransfer")
	config.SetDefault(&c.Template.Shards, 1)
	if c.Template.Replicas == nil {
		one := 1
		c.Template.Replicas = &one
	}
	if len(c.Template.IndexPatterns) == 0 {
		c.Template.IndexPatterns = []string{placeholder.ReplaceAllString(c.Index, "*")}
	}
	config.SetDefault(&c.Metrics.Listen, "127.0.0.1:9102")
	c.Log.SetDefaults()
	config.SetDefault(&c.ShutdownTimeout, agent.Duration(30*time.Second))
}

// placeholder finds a {placeholder}.
var placeholder = regexp.MustCompile(`\{[^}]*\}`)

var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func validTopic(t string) bool { return topicName.MatchString(t) && t != "." && t != ".." }

// agentConfig is k as the agent's Kafka config, so that the agent's client
// options (TLS dialer, SASL, quiet logger, acks=all idempotent producer for
// the DLQ) and its validation rules apply unchanged.
func (k KafkaConfig) agentConfig() agent.KafkaConfig {
	return agent.KafkaConfig{
		Brokers:            k.Brokers,
		ClientID:           k.ClientID,
		Compression:        "zstd",
		Linger:             agent.Duration(5 * time.Millisecond),
		MaxBufferedRecords: 10000,
		MaxBufferedBytes:   16 << 20,
		TLS:                k.TLS,
		SASL:               k.SASL,
	}
}

// fetchOpts are the consumer's fetch limits. franz-go keeps one fetch per
// broker buffered, decompressed, while the batch in hand is indexed, and
// while there is a backlog every fetch is full; zstd batches of agent
// records take about 9 times their compressed size in memory. The buffered
// fetches stay under brokers × kafka.fetch_max_bytes compressed; the
// partition limit is the same, so that one partition can fill a fetch (kgo's
// default is 1 MiB). Kafka still returns a batch larger than the limit, so a
// large record cannot stall a partition.
func fetchOpts(k KafkaConfig) []kgo.Opt {
	return []kgo.Opt{
		kgo.FetchMaxBytes(int32(k.FetchMaxBytes)),
		kgo.FetchMaxPartitionBytes(int32(k.FetchMaxBytes)),
	}
}
