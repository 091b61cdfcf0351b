package kafkaclient

import (
	"fmt"
	"slices"

	"github.com/logcollect/logcollect/internal/config"
)

// Config is the connection to Kafka, under a kafka: key of the config file.
// Services embed it inline in their own Kafka section.
type Config struct {
	Brokers  []string         `yaml:"brokers"`   // host:port, at least one
	ClientID string           `yaml:"client_id"` // default: the service's name
	TLS      config.TLSConfig `yaml:"tls"`
	SASL     SASLConfig       `yaml:"sasl"`
}

// SASLConfig configures Kafka SASL authentication.
type SASLConfig struct {
	Mechanism string `yaml:"mechanism"` // "" (off) | PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// ProducerConfig is a producer's connection and batching: how long records
// wait to fill a batch, how batches are compressed and how much may be in
// flight (produced and not yet acknowledged).
type ProducerConfig struct {
	Config             `yaml:",inline"`
	Compression        string             `yaml:"compression"`          // zstd | none | gzip | snappy | lz4
	Linger             config.Duration    `yaml:"linger"`               // the wait to fill a batch
	MaxBufferedRecords int                `yaml:"max_buffered_records"` // records in flight
	MaxBufferedBytes   int                `yaml:"max_buffered_bytes"`   // record bytes in flight (bounded by the caller: see ProducerOpts)
	CreateTopics       CreateTopicsConfig `yaml:"create_topics"`
}

// Compressions are the accepted ProducerConfig.Compression values.
var Compressions = []string{"zstd", "none", "gzip", "snappy", "lz4"}

// Validate checks the connection settings (brokers, SASL, TLS), adding each
// problem to errs under its field path: prefix is the section's, such as
// "kafka".
func (c Config) Validate(prefix string, errs *config.Errors) {
	if len(c.Brokers) == 0 {
		errs.Addf(prefix+".brokers", "at least one broker is required")
	}
	for i, b := range c.Brokers {
		if err := config.CheckHostPort(b, false); err != nil {
			errs.BadValue(fmt.Sprintf("%s.brokers[%d]", prefix, i), b, "%v", err)
		}
	}
	s := c.SASL
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.Password != "" {
			errs.Addf(prefix+".sasl.mechanism", "must be set when %s.sasl.username or password is set", prefix)
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if s.Username == "" {
			errs.Addf(prefix+".sasl.username", "required with mechanism %s", s.Mechanism)
		}
	default:
		errs.BadValue(prefix+".sasl.mechanism", s.Mechanism, "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	}
	c.TLS.Validate(prefix+".tls", errs)
}

// Validate checks the connection (Config.Validate) and the producer
// settings. Defaults must be set first.
func (p ProducerConfig) Validate(prefix string, errs *config.Errors) {
	p.Config.Validate(prefix, errs)
	if !slices.Contains(Compressions, p.Compression) {
		errs.BadValue(prefix+".compression", p.Compression, "must be zstd, none, gzip, snappy or lz4")
	}
	errs.NonNegative(prefix+".linger", p.Linger)
	config.Positive(errs, prefix+".max_buffered_records", p.MaxBufferedRecords)
	config.Positive(errs, prefix+".max_buffered_bytes", p.MaxBufferedBytes)
	p.CreateTopics.Validate(prefix+".create_topics", errs)
}
