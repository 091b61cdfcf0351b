package ctl

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/esclient"
	"github.com/logcollect/logcollect/internal/etcdclient"
	"github.com/logcollect/logcollect/internal/kafkaclient"
)

// Defaults of the connection settings: the addresses the daemons' sample
// configs use for a local setup.
const (
	DefaultEtcd          = "127.0.0.1:2379"
	DefaultBrokers       = "127.0.0.1:9092"
	DefaultElasticsearch = "http://127.0.0.1:9200"
	DefaultTimeout       = 10 * time.Second
)

// probeTimeout bounds the TCP probe made to explain a failed request.
const probeTimeout = time.Second

// EtcdAuth are the TLS and credentials for etcd.
type EtcdAuth struct {
	CAFile             string // PEM CA bundle; empty: the system roots
	CertFile, KeyFile  string // PEM client certificate and key (mTLS)
	Username, Password string // etcd authentication
}

// NewEtcdClient returns an etcd client for endpoints (host:port or
// http(s)://host:port), built like the agent's. It does not connect: the
// first request does, bounded by its context.
func NewEtcdClient(endpoints []string, timeout time.Duration) (*clientv3.Client, error) {
	return NewSecureEtcdClient(endpoints, timeout, EtcdAuth{})
}

// NewSecureEtcdClient is NewEtcdClient with TLS and credentials: the
// services' etcd client (etcdclient.New), checked by the same rules. TLS is
// on with a CA or a client certificate, or https:// endpoints.
func NewSecureEtcdClient(endpoints []string, timeout time.Duration, auth EtcdAuth) (*clientv3.Client, error) {
	cfg := etcdclient.Config{
		Endpoints: endpoints, DialTimeout: config.Duration(timeout),
		Username: auth.Username, Password: auth.Password,
		TLS: config.TLSConfig{CAFile: auth.CAFile, CertFile: auth.CertFile, KeyFile: auth.KeyFile},
	}
	cfg.TLS.Enabled = auth.CAFile != "" || auth.CertFile != "" || auth.KeyFile != "" || hasScheme(endpoints, "https")
	var errs config.Errors
	cfg.Validate("etcd", &errs)
	if err := errs.Err(); err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	cli, err := etcdclient.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	return cli, nil
}

// KafkaAuth are the TLS and SASL settings for Kafka.
type KafkaAuth struct {
	TLS                bool   // TLS with the system roots; implied by the files below
	CAFile             string // PEM CA bundle; empty: the system roots
	CertFile, KeyFile  string // PEM client certificate and key (mTLS)
	SASLMechanism      string // "" (off) | PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
	Username, Password string // SASL credentials
}

// NewKafkaAdmin returns a Kafka admin client for brokers (host:port). It
// does not connect: the first request does, bounded by its context. Close
// it with Close.
func NewKafkaAdmin(brokers []string, timeout time.Duration) (*kadm.Client, error) {
	return NewSecureKafkaAdmin(brokers, timeout, KafkaAuth{})
}

// NewSecureKafkaAdmin is NewKafkaAdmin with TLS and SASL: the services'
// connection options (kafkaclient.Opts: seed brokers, TLS dialer, SASL
// mechanism), checked by the same rules.
func NewSecureKafkaAdmin(brokers []string, timeout time.Duration, auth KafkaAuth) (*kadm.Client, error) {
	cfg := kafkaclient.Config{
		Brokers: brokers, ClientID: "logctl",
		TLS: config.TLSConfig{
			Enabled: auth.TLS || auth.CAFile != "" || auth.CertFile != "" || auth.KeyFile != "",
			CAFile:  auth.CAFile, CertFile: auth.CertFile, KeyFile: auth.KeyFile,
		},
		SASL: kafkaclient.SASLConfig{Mechanism: strings.ToUpper(auth.SASLMechanism), Username: auth.Username, Password: auth.Password},
	}
	where := "kafka " + strings.Join(brokers, ",")
	var errs config.Errors
	cfg.Validate("kafka", &errs)
	if err := errs.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	opts, err := kafkaclient.Opts(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	opts = append(opts, kgo.DialTimeout(timeout))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %v: %w", brokers, err)
	}
	return kadm.NewClient(cl), nil
}

// hasScheme reports whether one of the addresses is a URL with that scheme.
func hasScheme(addrs []string, scheme string) bool {
	for _, a := range addrs {
		if strings.HasPrefix(strings.ToLower(a), scheme+"://") {
			return true
		}
	}
	return false
}

// NewElasticsearchClient returns a client for the nodes at urls, without
// sniffing or health checks: requests go to the URLs given and fail with
// their own error when a node is down.
func NewElasticsearchClient(urls []string, timeout time.Duration) (*elastic.Client, error) {
	return NewSecureElasticsearchClient(urls, timeout, ElasticsearchAuth{})
}

// ElasticsearchAuth are the TLS and credentials for Elasticsearch.
type ElasticsearchAuth struct {
	CAFile             string // PEM CA bundle for https URLs; empty: the system roots
	Username, Password string // basic auth
	APIKey             string // base64 "id:key", sent as "Authorization: ApiKey …"
}

// NewSecureElasticsearchClient is NewElasticsearchClient with a CA and
// credentials: logtransfer's client (esclient.New), checked by the same
// rules.
func NewSecureElasticsearchClient(urls []string, timeout time.Duration, auth ElasticsearchAuth) (*elastic.Client, error) {
	cfg := esclient.Config{
		URLs: urls, Username: auth.Username, Password: auth.Password, APIKey: auth.APIKey,
		TLS:     config.TLSConfig{Enabled: auth.CAFile != "", CAFile: auth.CAFile},
		Timeout: config.Duration(timeout),
	}
	var errs config.Errors
	cfg.Validate("elasticsearch", &errs)
	if err := errs.Err(); err != nil {
		return nil, fmt.Errorf("elasticsearch %s: %w", strings.Join(config.RedactURLs(urls), ","), err)
	}
	return esclient.New(cfg)
}

// connError wraps err, the failure of op against service at addrs. When no
// address accepts a TCP connection the probe's error is added: it says why
// (connection refused, no route to host, i/o timeout) where the client often
// only says that its deadline passed.
func connError(service string, addrs []string, op string, err error) error {
	var probeErr error
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", hostPort(a), probeTimeout)
		if err == nil {
			c.Close()
			probeErr = nil
			break
		}
		if probeErr == nil {
			probeErr = err
		}
	}
	where := service + " " + strings.Join(config.RedactURLs(addrs), ",")
	if probeErr != nil {
		return fmt.Errorf("%s: cannot connect (%v): %s: %w", where, probeErr, op, err)
	}
	return fmt.Errorf("%s: %s: %w", where, op, err)
}

// hostPort returns the host:port of an address given as host:port or URL.
func hostPort(addr string) string {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		if u.Port() != "" {
			return u.Host
		}
		if u.Scheme == "https" {
			return net.JoinHostPort(u.Hostname(), "443")
		}
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return addr
}
