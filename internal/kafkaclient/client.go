package kafkaclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kslog"
)

// MaxBatchBytes is the producer's batch limit (kgo.ProducerBatchMaxBytes),
// franz-go's default and the broker's default message.max.bytes: a record
// must stay below it (with its batch overhead) to be accepted.
const MaxBatchBytes = 1_000_012

// Opts are the client options for the connection in c: seed brokers, client
// id, TLS dialer, SASL mechanism, and a logger that names the brokers. Callers
// append their own options (consumer group, producer settings); later
// options win. c must be valid (Config.Validate).
func Opts(c Config, log *slog.Logger) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		// The seed brokers on every line: the client names a broker by its
		// id ("seed_0") in some errors, such as a failed SASL handshake.
		kgo.WithLogger(kslog.New(slog.New(quietHandler{log.Handler()}).With("component", "kafka", "brokers", c.Brokers))),
	}
	if c.ClientID != "" {
		opts = append(opts, kgo.ClientID(c.ClientID))
	}
	tlsCfg, err := c.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("kafka.tls: %w", err)
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.Dialer((&tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: tlsCfg}).DialContext))
	}
	if m := saslMechanism(c.SASL); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// ProducerOpts are Opts plus the producer settings of p: acks=all and
// idempotent (the franz-go defaults), retried forever, keyed partitioning
// (franz-go's default partitioner) so that one key's records keep their
// order in one partition, topics created on first use, and p's linger and
// compression (zstd is this package's compressor, the other codecs
// franz-go's).
//
// The client's buffer limit is p.MaxBufferedRecords + 1: the caller bounds
// what it hands to Produce by records and bytes (logagent's limiter), and the
// client's limit sits above it so that Produce never blocks uncancellably.
func ProducerOpts(p ProducerConfig, log *slog.Logger) ([]kgo.Opt, error) {
	opts, err := Opts(p.Config, log)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(p.Linger.D()),
		kgo.MaxBufferedRecords(p.MaxBufferedRecords+1),
		kgo.ProducerBatchMaxBytes(MaxBatchBytes),
		kgo.AllowAutoTopicCreation(),
	)
	codec, err := compressionCodec(p.Compression)
	if err != nil {
		return nil, err
	}
	if isZstd(p.Compression) {
		opts = append(opts, kgo.WithCompressor(newZstdCompressor()))
	} else {
		opts = append(opts, kgo.ProducerBatchCompression(codec))
	}
	return opts, nil
}

// NewProducer returns a client built with ProducerOpts.
func NewProducer(p ProducerConfig, log *slog.Logger) (*kgo.Client, error) {
	opts, err := ProducerOpts(p, log)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// Pinger is the part of *kgo.Client that Check uses.
type Pinger interface {
	Ping(context.Context) error
}

var _ Pinger = (*kgo.Client)(nil)

// Check returns a readiness check of Kafka: a metadata request with cl, whose
// error names the brokers, such as "kafka [10.0.0.1:9093]: remote error: tls:
// bad certificate".
func Check(cl Pinger, brokers []string) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := cl.Ping(ctx); err != nil {
			return fmt.Errorf("kafka %v: %w", brokers, err)
		}
		return nil
	}
}

// quietHandler keeps the Kafka client's routine info messages (metadata
// refreshes, producer ids) out of the log unless debug logging is on;
// warnings and errors pass.
type quietHandler struct{ slog.Handler }

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if h.Handler.Enabled(ctx, slog.LevelDebug) {
		return true
	}
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}

func isZstd(name string) bool {
	name = strings.ToLower(name)
	return name == "" || name == "zstd"
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "zstd":
		// The fastest level: on application hosts CPU matters more than
		// the last percent of ratio (log lines compress well anyway).
		return kgo.ZstdCompression().WithLevel(int(zstd.SpeedFastest)), nil
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("kafka.compression: unknown codec %q", name)
}

func saslMechanism(c SASLConfig) sasl.Mechanism {
	switch strings.ToUpper(c.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: c.Username, Pass: c.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha512Mechanism()
	}
	return nil
}
