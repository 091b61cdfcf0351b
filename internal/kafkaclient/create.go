package kafkaclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/config"
)

// CreateTopicsConfig is kafka.create_topics: whether a service creates the
// topics it writes to (logagent's task topics, logtransfer's dead-letter
// topics) when Kafka does not have them, and how. Managed Kafka services
// usually turn the brokers' auto.create.topics.enable off, and then a
// producer's records to a new topic fail until someone creates it.
type CreateTopicsConfig struct {
	Enabled           bool              `yaml:"enabled"`            // default false: topics are created by the brokers (auto-creation) or by hand
	Partitions        int32             `yaml:"partitions"`         // 0: the brokers' num.partitions
	ReplicationFactor int16             `yaml:"replication_factor"` // 0: the brokers' default.replication.factor
	Configs           map[string]string `yaml:"configs"`            // topic configs, such as min.insync.replicas: "2"
}

// Validate adds the problems of c to errs under prefix, such as
// "kafka.create_topics".
func (c CreateTopicsConfig) Validate(prefix string, errs *config.Errors) {
	if c.Partitions < 0 {
		errs.BadValue(prefix+".partitions", c.Partitions, "must be >= 0 (0: the brokers' default)")
	}
	if c.ReplicationFactor < 0 {
		errs.BadValue(prefix+".replication_factor", c.ReplicationFactor, "must be >= 0 (0: the brokers' default)")
	}
}

// TopicMissing reports whether err, a produce error, says that Kafka has no
// such topic (the client gives up after a few metadata requests that say
// so).
func TopicMissing(err error) bool { return errors.Is(err, kerr.UnknownTopicOrPartition) }

// Topics creates the topics a service produces to, through the admin API,
// when kafka.create_topics is enabled and Kafka does not have them; and it
// says when a topic is missing: a warning naming the topic and the metric
// missing (labelled by topic, which the service's config bounds) at 1 until
// a record to the topic is acknowledged. It is safe for concurrent use; a
// nil *Topics does nothing (a service whose producer is a test fake).
type Topics struct {
	cfg     CreateTopicsConfig
	adm     *kadm.Client
	log     *slog.Logger
	missing *prometheus.GaugeVec // topic

	mu      sync.Mutex
	exists  map[string]bool // topics known to exist (created or found)
	flagged map[string]bool // topics whose missing gauge is 1
	// anyFlagged is len(flagged) > 0, read on every acknowledgement
	anyFlagged atomic.Bool
}

// NewTopics returns the Topics of the client cl; missing is the service's
// gauge of missing topics, with the label topic.
func NewTopics(cl *kgo.Client, cfg CreateTopicsConfig, missing *prometheus.GaugeVec, log *slog.Logger) *Topics {
	return &Topics{cfg: cfg, adm: kadm.NewClient(cl), log: log.With("component", "topics"), missing: missing,
		exists: map[string]bool{}, flagged: map[string]bool{}}
}

// Ensure creates topic if creation is enabled and Kafka does not have it; a
// topic known to exist costs nothing. With creation off it does nothing: the
// records tell (Failed).
func (t *Topics) Ensure(ctx context.Context, topic string) error {
	if t == nil || !t.cfg.Enabled {
		return nil
	}
	t.mu.Lock()
	known := t.exists[topic]
	t.mu.Unlock()
	if known {
		return nil
	}
	partitions, rf := t.cfg.Partitions, t.cfg.ReplicationFactor
	if partitions == 0 {
		partitions = -1 // the brokers' default (Kafka 2.4+)
	}
	if rf == 0 {
		rf = -1
	}
	configs := make(map[string]*string, len(t.cfg.Configs))
	for k, v := range t.cfg.Configs {
		configs[k] = &v
	}
	res, err := t.adm.CreateTopic(ctx, partitions, rf, configs, topic)
	if err == nil {
		err = res.Err
	}
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
	case err != nil:
		return fmt.Errorf("create kafka topic %s: %w", topic, err)
	default:
		t.log.Info("kafka topic created", "topic", topic, "partitions", res.NumPartitions, "replication_factor", res.ReplicationFactor)
	}
	t.mu.Lock()
	t.exists[topic] = true
	t.mu.Unlock()
	return nil
}

// Failed takes the error of a record to topic that Kafka did not accept: if
// it says the topic is missing, the first one logs it and sets the gauge.
func (t *Topics) Failed(topic string, err error) {
	if t == nil || !TopicMissing(err) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.flagged[topic] {
		return
	}
	t.flagged[topic] = true
	t.anyFlagged.Store(true)
	delete(t.exists, topic) // deleted since: created again at the next Ensure
	// Logged before the gauge is set, so that whoever sees the gauge finds the line.
	if t.cfg.Enabled {
		t.log.Error("kafka topic does not exist, and creating it failed or it was deleted since: its records wait and are sent again", "topic", topic)
	} else {
		t.log.Error("kafka topic does not exist and kafka.create_topics is off: create the topic (or set kafka.create_topics.enabled); its records wait and are sent again", "topic", topic)
	}
	t.missing.WithLabelValues(topic).Set(1)
}

// Acked takes the acknowledgement of a record to topic: a topic flagged
// missing exists now. Cheap when none is flagged.
func (t *Topics) Acked(topic string) {
	if t == nil || !t.anyFlagged.Load() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.flagged[topic] {
		return
	}
	delete(t.flagged, topic)
	t.anyFlagged.Store(len(t.flagged) > 0)
	t.missing.DeleteLabelValues(topic)
	t.log.Info("kafka topic exists now: its records are acknowledged", "topic", topic)
}
