package transfer

import (
	"fmt"
	"math"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/esclient"
	"github.com/logcollect/logcollect/internal/esindex"
	"github.com/logcollect/logcollect/internal/etcdclient"
	"github.com/logcollect/logcollect/internal/kafkaclient"
	"github.com/logcollect/logcollect/pipeline"
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
	Retention       RetentionConfig     `yaml:"retention"`
	Metrics         MetricsConfig       `yaml:"metrics"`
	Log             config.LogConfig    `yaml:"log"`
	ShutdownTimeout config.Duration     `yaml:"shutdown_timeout"` // default 30s
	// Pipelines shape the records of their topics before they are indexed
	// (package pipeline). The etcd key etcd.pipelines_key, when it exists,
	// replaces them; SIGHUP re-reads them from the file.
	Pipelines []pipeline.Config `yaml:"pipelines"`
}

// KafkaConfig configures the consumer group (and the DLQ producer, which
// shares its client).
type KafkaConfig struct {
	kafkaclient.Config `yaml:",inline"` // brokers, client_id (default "logtransfer"), tls, sasl
	Group              string           `yaml:"group"`        // default "logtransfer"
	StartOffset        string           `yaml:"start_offset"` // earliest (default) | latest: where a new group starts
	Topics             []string         `yaml:"topics"`       // topics to consume; with or instead of topic_regex
	TopicRegex         string           `yaml:"topic_regex"`  // RE2, matched against whole topic names
	// SessionTimeout is how long the group waits for a silent member
	// (killed, partitioned) before giving its partitions to others.
	SessionTimeout config.Duration `yaml:"session_timeout"` // default 45s
	// InstanceID is the member's static group membership id
	// (group.instance.id): a logtransfer restarted with the same id takes
	// its partitions back at once, without a rebalance and without waiting
	// out SessionTimeout after a crash. Unset: derived from the host name
	// and metrics.listen (see defaultInstanceID); "": off.
	InstanceID *string `yaml:"instance_id"`
	// CreateTopics creates the dead-letter topics when Kafka does not have
	// them.
	CreateTopics kafkaclient.CreateTopicsConfig `yaml:"create_topics"`
	// FetchMaxBytes caps one fetch response, in bytes as stored in Kafka
	// (compressed). The client buffers one fetch per broker ahead of the
	// batch in hand, decompressed, so this is what bounds logtransfer's
	// memory while a backlog is indexed; see fetchOpts.
	FetchMaxBytes int `yaml:"fetch_max_bytes"` // default 1 MiB
}

// EtcdConfig optionally names the etcd keys logtransfer watches: one holding
// more topics to consume (a JSON list of names), so that new topics are
// consumed without a restart, and one holding the pipelines (a YAML or JSON
// list, as under pipelines:), which replace the config file's while the key
// exists.
type EtcdConfig struct {
	etcdclient.Config `yaml:",inline"` // endpoints (empty: no etcd), dial_timeout, username, password, tls
	TopicsKey         string           `yaml:"topics_key"`    // default "/logtransfer/topics"
	PipelinesKey      string           `yaml:"pipelines_key"` // default "/logtransfer/pipelines"
}

// ElasticsearchConfig configures the olivere/elastic client: URLs,
// credentials, tls (or the older flat ca_file), sniff, healthcheck, timeout
// (default 30s per request).
type ElasticsearchConfig = esclient.Config

// BulkConfig sizes the bulk requests.
type BulkConfig struct {
	Actions         int             `yaml:"actions"`           // default 5000 documents per request
	Bytes           int             `yaml:"bytes"`             // default 5 MiB per request
	FlushInterval   config.Duration `yaml:"flush_interval"`    // default 1s
	Workers         int             `yaml:"workers"`           // default 1 concurrent request
	RetryBackoff    config.Duration `yaml:"retry_backoff"`     // default 100ms: first wait before a retry
	RetryMaxBackoff config.Duration `yaml:"retry_max_backoff"` // default 30s
}

// DLQConfig names the dead-letter topic.
type DLQConfig struct {
	Topic string `yaml:"topic"` // default "{topic}.dlq"
}

// TemplateConfig configures the index template installed at startup.
type TemplateConfig struct {
	Name string `yaml:"name"` // default "logtransfer"
	// IndexPatterns default to the index setting with {topic} replaced by
	// each topic of kafka.topics and the date placeholders by * (nginx-*,
	// app-*): patterns of logtransfer's indices alone, which overlap no
	// engine's built-in templates (logs-*-*, .monitoring-*, ...). With
	// topic_regex or topics from etcd, the topics are unknown at startup and
	// {topic} becomes * too (*-*, every index with a dash).
	IndexPatterns []string `yaml:"index_patterns"`
	// Priority of the composable template: above the built-in templates of
	// Elasticsearch (100), so that logtransfer's mappings win for its
	// indices, such as a topic logs-app's logs-app-* over logs-*-* (whose
	// data streams would refuse logtransfer's index operations).
	Priority  int  `yaml:"priority"`  // default 200
	Shards    int  `yaml:"shards"`    // default 1
	Replicas  *int `yaml:"replicas"`  // default 1
	Overwrite bool `yaml:"overwrite"` // replace an existing template
}

// RetentionConfig deletes the dated indices of the topics logtransfer
// consumes once every document they can hold is older than MaxAge (see
// retention.go). Off unless MaxAge is set.
type RetentionConfig struct {
	MaxAge   esindex.Age     `yaml:"max_age"`  // "30d", "36h"; 0 (default): off
	Interval config.Duration `yaml:"interval"` // default 1h: time between two runs
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
func ReadConfig(path string) (Config, error) { return config.Read[Config](path) }

// Validate sets defaults for unset fields, then checks the whole config. The
// error lists every problem, each prefixed by the field's path in the YAML
// file, such as `kafka.brokers: at least one broker is required`.
func (c *Config) Validate() error {
	c.setDefaults()
	var errs config.Errors

	k := &c.Kafka
	k.Config.Validate("kafka", &errs)
	if !slices.Contains([]string{"earliest", "latest"}, k.StartOffset) {
		errs.BadValue("kafka.start_offset", k.StartOffset, "must be earliest or latest")
	}
	config.Positive(&errs, "kafka.session_timeout", k.SessionTimeout)
	if id := *k.InstanceID; id != "" && !kafkaclient.ValidInstanceID(id) {
		errs.BadValue("kafka.instance_id", id, "want 1 to 249 of [a-zA-Z0-9._-], or \"\" for no static membership")
	}
	k.CreateTopics.Validate("kafka.create_topics", &errs)
	if k.FetchMaxBytes < 0 || k.FetchMaxBytes > math.MaxInt32 {
		errs.BadValue("kafka.fetch_max_bytes", k.FetchMaxBytes, "must be > 0 and < 2 GiB")
	}
	etcd := len(c.Etcd.Endpoints) > 0
	if len(k.Topics) == 0 && k.TopicRegex == "" && !etcd {
		errs.Addf("kafka.topics", "set kafka.topics, kafka.topic_regex or both (or etcd.endpoints)")
	}
	for i, t := range k.Topics {
		if !kafkaclient.ValidTopic(t) {
			errs.BadValue(fmt.Sprintf("kafka.topics[%d]", i), t, "not a valid topic name")
		}
	}
	if k.TopicRegex != "" {
		if _, err := regexp.Compile(k.TopicRegex); err != nil {
			errs.Addf("kafka.topic_regex", "%v", err)
		}
	}

	c.Etcd.Config.Validate("etcd", &errs)
	if etcd && k.TopicRegex != "" {
		errs.Addf("etcd.endpoints", "topics from etcd cannot be combined with kafka.topic_regex")
	}
	if !strings.HasPrefix(c.Etcd.TopicsKey, "/") {
		errs.BadValue("etcd.topics_key", c.Etcd.TopicsKey, "must start with /")
	}
	if !strings.HasPrefix(c.Etcd.PipelinesKey, "/") {
		errs.BadValue("etcd.pipelines_key", c.Etcd.PipelinesKey, "must start with /")
	} else if c.Etcd.PipelinesKey == c.Etcd.TopicsKey {
		errs.BadValue("etcd.pipelines_key", c.Etcd.PipelinesKey, "must differ from etcd.topics_key")
	}

	c.Elasticsearch.Validate("elasticsearch", &errs)
	if _, err := esindex.Parse(c.Index); err != nil {
		errs.BadValue("index", c.Index, "%v", err)
	}
	b := c.Bulk
	config.Positive(&errs, "bulk.actions", b.Actions)
	config.Positive(&errs, "bulk.bytes", b.Bytes)
	config.Positive(&errs, "bulk.flush_interval", b.FlushInterval)
	config.Positive(&errs, "bulk.workers", b.Workers)
	errs.NonNegative("bulk.retry_backoff", b.RetryBackoff)
	if b.RetryMaxBackoff < b.RetryBackoff {
		errs.BadValue("bulk.retry_max_backoff", b.RetryMaxBackoff, "must be >= bulk.retry_backoff")
	}
	if p := placeholder.FindString(strings.ReplaceAll(c.DLQ.Topic, "{topic}", "")); p != "" {
		errs.BadValue("dlq.topic", c.DLQ.Topic, "unknown placeholder %s, want {topic}", p)
	} else if !kafkaclient.ValidTopic(strings.ReplaceAll(c.DLQ.Topic, "{topic}", "t")) {
		errs.BadValue("dlq.topic", c.DLQ.Topic, "not a valid topic name")
	}
	config.Positive(&errs, "template.shards", c.Template.Shards)
	if c.Template.Priority < 0 {
		errs.BadValue("template.priority", c.Template.Priority, "must be >= 0")
	}
	if c.Template.Replicas != nil && *c.Template.Replicas < 0 {
		errs.BadValue("template.replicas", *c.Template.Replicas, "must be >= 0")
	}
	if r := c.Retention; r.MaxAge != 0 {
		if r.MaxAge < esindex.MinAge {
			errs.BadValue("retention.max_age", r.MaxAge.String(), "must be at least 1h (or unset: no retention)")
		}
		if tmpl, err := esindex.Parse(c.Index); err == nil {
			if err := tmpl.CheckDated(); err != nil {
				errs.BadValue("retention.max_age", r.MaxAge.String(), "index %q %v", c.Index, err)
			}
		}
		config.Positive(&errs, "retention.interval", r.Interval)
	}
	if err := config.CheckHostPort(c.Metrics.Listen, true); err != nil {
		errs.BadValue("metrics.listen", c.Metrics.Listen, "%v", err)
	}
	c.Log.Validate("log", &errs)
	config.Positive(&errs, "shutdown_timeout", c.ShutdownTimeout)
	if _, err := pipeline.NewSet(c.Pipelines); err != nil {
		errs.Addf("pipelines", "%v", err)
	}
	return errs.Err()
}

const defaultIndex = "{topic}-{yyyy.MM.dd}"

func (c *Config) setDefaults() {
	config.SetDefault(&c.Metrics.Listen, "127.0.0.1:9102") // before the instance id, made from it
	config.SetDefault(&c.Kafka.ClientID, "logtransfer")
	config.SetDefault(&c.Kafka.Group, "logtransfer")
	config.SetDefault(&c.Kafka.StartOffset, "earliest")
	config.SetDefault(&c.Kafka.SessionTimeout, config.Duration(45*time.Second))
	config.SetDefault(&c.Kafka.FetchMaxBytes, 1<<20)
	if c.Kafka.InstanceID == nil {
		id := defaultInstanceID(c.Metrics.Listen)
		c.Kafka.InstanceID = &id
	}
	config.SetDefault(&c.Etcd.DialTimeout, config.Duration(5*time.Second))
	config.SetDefault(&c.Etcd.TopicsKey, "/logtransfer/topics")
	config.SetDefault(&c.Etcd.PipelinesKey, "/logtransfer/pipelines")
	config.SetDefault(&c.Elasticsearch.Timeout, config.Duration(30*time.Second))
	config.SetDefault(&c.Index, defaultIndex)
	config.SetDefault(&c.Bulk.Actions, 5000)
	config.SetDefault(&c.Bulk.Bytes, 5<<20)
	config.SetDefault(&c.Bulk.FlushInterval, config.Duration(time.Second))
	config.SetDefault(&c.Bulk.Workers, 1)
	config.SetDefault(&c.Bulk.RetryBackoff, config.Duration(100*time.Millisecond))
	config.SetDefault(&c.Bulk.RetryMaxBackoff, config.Duration(30*time.Second))
	config.SetDefault(&c.DLQ.Topic, "{topic}.dlq")
	config.SetDefault(&c.Template.Name, "logtransfer")
	config.SetDefault(&c.Template.Shards, 1)
	if c.Template.Replicas == nil {
		one := 1
		c.Template.Replicas = &one
	}
	config.SetDefault(&c.Template.Priority, 200)
	if len(c.Template.IndexPatterns) == 0 {
		c.Template.IndexPatterns = c.defaultIndexPatterns()
	}
	config.SetDefault(&c.Retention.Interval, config.Duration(time.Hour))
	c.Log.SetDefaults()
	config.SetDefault(&c.ShutdownTimeout, config.Duration(30*time.Second))
}

// hostname is os.Hostname (a variable for tests).
var hostname = os.Hostname

// defaultInstanceID is kafka.instance_id when unset: the host name and the
// metrics listen address, such as "web-1-127.0.0.1-9102" (":9102":
// "web-1-9102"), with what Kafka
// refuses in an instance id replaced by '-'. Two instances on one host
// cannot listen on the same address, so they never get the same id (a
// second member with the id of a live one would fence it out of the group),
// and a restarted instance gets its old one. With a random metrics port
// (:0), or no host name, there is no stable id: static membership is off.
func defaultInstanceID(listen string) string {
	name, err := hostname()
	host, port, perr := net.SplitHostPort(listen)
	if err != nil || name == "" || perr != nil || port == "0" {
		return ""
	}
	var parts []string
	for _, p := range []string{name, host, port} {
		if p = strings.Trim(invalidIDChars.ReplaceAllString(p, "-"), "-"); p != "" {
			parts = append(parts, p)
		}
	}
	id := strings.Join(parts, "-")
	return id[:min(len(id), 249)]
}

// invalidIDChars are the characters Kafka refuses in a group instance id.
var invalidIDChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// defaultIndexPatterns returns the patterns of the indices logtransfer
// writes: the index setting with {topic} as each topic of kafka.topics
// (lower-cased, as the index name has it) and the other placeholders as *;
// or with {topic} as * too if topics may come from topic_regex or etcd.
func (c *Config) defaultIndexPatterns() []string {
	wild := placeholder.ReplaceAllString(c.Index, "*")
	if c.Kafka.TopicRegex != "" || len(c.Etcd.Endpoints) > 0 || len(c.Kafka.Topics) == 0 {
		return []string{wild}
	}
	var patterns []string
	for _, tp := range c.Kafka.Topics {
		p := placeholder.ReplaceAllStringFunc(c.Index, func(ph string) string {
			if ph == "{topic}" {
				return strings.ToLower(tp)
			}
			return "*"
		})
		if !slices.Contains(patterns, p) {
			patterns = append(patterns, p)
		}
	}
	return patterns
}

// placeholder finds a {placeholder}.
var placeholder = regexp.MustCompile(`\{[^}]*\}`)

// producerConfig is k with the settings of the dead-letter producer, which
// shares the consumer's client: acks=all and idempotent like logagent's
// producer, zstd, a short linger (dead letters are rare).
func (k KafkaConfig) producerConfig() kafkaclient.ProducerConfig {
	return kafkaclient.ProducerConfig{
		Config:             k.Config,
		Compression:        "zstd",
		Linger:             config.Duration(5 * time.Millisecond),
		MaxBufferedRecords: 10000,
		MaxBufferedBytes:   16 << 20,
		CreateTopics:       k.CreateTopics,
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
