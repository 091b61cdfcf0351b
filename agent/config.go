package agent

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/sysmon"
)

// Config is the logagent configuration, read from a YAML file by LoadConfig.
// testdata/agent.yaml documents every key with its default.
type Config struct {
	Kafka           KafkaConfig   `yaml:"kafka"`
	Etcd            EtcdConfig    `yaml:"etcd"`
	Host            HostConfig    `yaml:"host"`
	DataDir         string        `yaml:"data_dir"` // default "/var/lib/logagent"
	Metrics         MetricsConfig `yaml:"metrics"`
	Log             LogConfig     `yaml:"log"`
	Files           FilesConfig   `yaml:"files"`
	Tasks           []Task        `yaml:"tasks"`            // used when etcd.endpoints is empty
	ShutdownTimeout Duration      `yaml:"shutdown_timeout"` // default 30s: how long SIGTERM waits for buffered records
	// Sysmon, when set, runs the host sampler in the agent's process, so
	// one process per host is enough. Its host defaults to host.name.
	Sysmon *sysmon.Config `yaml:"sysmon"`
}

// KafkaConfig configures the producer.
type KafkaConfig struct {
	Brokers            []string   `yaml:"brokers"`              // host:port, at least one
	ClientID           string     `yaml:"client_id"`            // default "logagent"
	Compression        string     `yaml:"compression"`          // zstd (default) | none | gzip | snappy | lz4
	Linger             Duration   `yaml:"linger"`               // default 10ms
	MaxBufferedRecords int        `yaml:"max_buffered_records"` // default 10000
	MaxBufferedBytes   int        `yaml:"max_buffered_bytes"`   // default 16 MiB
	TLS                TLSConfig  `yaml:"tls"`
	SASL               SASLConfig `yaml:"sasl"`
}

// SASLConfig configures Kafka SASL authentication.
type SASLConfig struct {
	Mechanism string `yaml:"mechanism"` // "" (off) | PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// EtcdConfig configures where collect tasks come from.
type EtcdConfig struct {
	Endpoints   []string  `yaml:"endpoints"`    // empty → no etcd: tasks come from the YAML file
	DialTimeout Duration  `yaml:"dial_timeout"` // default 5s
	CollectKey  string    `yaml:"collect_key"`  // default "/logagent/{ip}/collect_config"; {ip} and {hostname} placeholders
	Username    string    `yaml:"username"`
	Password    string    `yaml:"password"`
	TLS         TLSConfig `yaml:"tls"`
}

// HostConfig identifies this host; empty values are detected at startup.
type HostConfig struct {
	IP   string `yaml:"ip"`
	Name string `yaml:"name"`
}

// MetricsConfig configures the Prometheus endpoint.
type MetricsConfig struct {
	Listen string `yaml:"listen"` // default "127.0.0.1:9101"
}

// LogConfig configures the agent's own log; see config.LogConfig.
type LogConfig = config.LogConfig

// Duration is a time.Duration written in config files as a Go duration
// string such as "10s"; see config.Duration.
type Duration = config.Duration

// TLSConfig configures a TLS client connection (to Kafka or etcd); see
// config.TLSConfig.
type TLSConfig = config.TLSConfig

// FilesConfig configures how files are found and closed.
type FilesConfig struct {
	ScanFrequency Duration `yaml:"scan_frequency"` // default 10s: how often globs are re-expanded
	CloseInactive Duration `yaml:"close_inactive"` // default 5m
	IgnoreOlder   Duration `yaml:"ignore_older"`   // default 0 = off
	CleanRemoved  Duration `yaml:"clean_removed"`  // default 24h
}

const defaultCollectKey = "/logagent/{ip}/collect_config"

// LoadConfig reads the YAML config file at path with config.Load, which
// expands environment variables in it (${VAR} and ${VAR:-default}; see
// config.ExpandEnv) and decodes it strictly (an unknown key is an error with
// its line number), then validates it (see Config.Validate).
func LoadConfig(path string) (Config, error) {
	return config.LoadValidated(path, ReadConfig, (*Config).Validate)
}

// ReadConfig is LoadConfig without Validate: no defaults are set and nothing
// is checked beyond the YAML itself. It is for callers that override some
// fields (from flags) and then call Validate.
func ReadConfig(path string) (Config, error) {
	var c Config
	if err := config.Load(path, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ExpandCollectKey returns the etcd key holding this host's tasks: the
// collect_key with {ip} and {hostname} replaced. Call it after Validate.
func (c Config) ExpandCollectKey(ip, hostname string) string {
	return strings.NewReplacer("{ip}", ip, "{hostname}", hostname).Replace(c.Etcd.CollectKey)
}

// Validate sets defaults for unset fields, then checks the whole config. The
// error lists every problem, each prefixed by the field's path in the YAML
// file, such as `kafka.brokers: at least one broker is required`. Tasks are
// replaced by their validated copy (see ValidateTasks).
func (c *Config) Validate() error {
	c.setDefaults()
	var errs config.Errors

	c.Kafka.Validate(&errs)
	e := &c.Etcd
	e.ValidateClient(&errs)
	if !strings.HasPrefix(e.CollectKey, "/") {
		errs.BadValue("etcd.collect_key", e.CollectKey, "must start with /")
	}
	if p := placeholder.FindString(strings.NewReplacer("{ip}", "", "{hostname}", "").Replace(e.CollectKey)); p != "" {
		errs.BadValue("etcd.collect_key", e.CollectKey, "unknown placeholder %s, want {ip} or {hostname}", p)
	}

	if c.Host.IP != "" && net.ParseIP(c.Host.IP) == nil {
		errs.BadValue("host.ip", c.Host.IP, "not an IP address")
	}
	if err := config.CheckHostPort(c.Metrics.Listen, true); err != nil {
		errs.BadValue("metrics.listen", c.Metrics.Listen, "%v", err)
	}
	c.Log.Validate("log", &errs)
	errs.NonNegative("files.scan_frequency", c.Files.ScanFrequency)
	errs.NonNegative("files.close_inactive", c.Files.CloseInactive)
	errs.NonNegative("files.ignore_older", c.Files.IgnoreOlder)
	errs.NonNegative("files.clean_removed", c.Files.CleanRemoved)
	if c.ShutdownTimeout < 0 {
		errs.BadValue("shutdown_timeout", c.ShutdownTimeout, "must be > 0")
	}

	tasks, err := ValidateTasks(c.Tasks)
	if err != nil {
		errs = append(errs, fmt.Errorf("tasks: %w", err))
	} else {
		c.Tasks = tasks
	}
	if c.Sysmon != nil {
		config.SetDefault(&c.Sysmon.Host, c.Host.Name)
		if err := c.Sysmon.Validate(); err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, fmt.Errorf("sysmon.%w", e))
			}
		}
	}
	return errs.Err()
}

// Validate checks the Kafka client settings (brokers, compression, buffers,
// SASL, TLS), adding each problem to errs under its kafka.* field. The
// agent and logtransfer share it, so both accept the same values with the
// same messages. Defaults must be set first.
func (k KafkaConfig) Validate(errs *config.Errors) {
	if len(k.Brokers) == 0 {
		errs.Addf("kafka.brokers", "at least one broker is required")
	}
	for i, b := range k.Brokers {
		if err := config.CheckHostPort(b, false); err != nil {
			errs.BadValue(fmt.Sprintf("kafka.brokers[%d]", i), b, "%v", err)
		}
	}
	if !slices.Contains([]string{"zstd", "none", "gzip", "snappy", "lz4"}, k.Compression) {
		errs.BadValue("kafka.compression", k.Compression, "must be zstd, none, gzip, snappy or lz4")
	}
	errs.NonNegative("kafka.linger", k.Linger)
	if k.MaxBufferedRecords < 0 {
		errs.BadValue("kafka.max_buffered_records", k.MaxBufferedRecords, "must be > 0")
	}
	if k.MaxBufferedBytes < 0 {
		errs.BadValue("kafka.max_buffered_bytes", k.MaxBufferedBytes, "must be > 0")
	}
	switch k.SASL.Mechanism {
	case "":
		if k.SASL.Username != "" || k.SASL.Password != "" {
			errs.Addf("kafka.sasl.mechanism", "must be set when kafka.sasl.username or password is set")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if k.SASL.Username == "" {
			errs.Addf("kafka.sasl.username", "required with mechanism %s", k.SASL.Mechanism)
		}
	default:
		errs.BadValue("kafka.sasl.mechanism", k.SASL.Mechanism, "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	}
	k.TLS.Validate("kafka.tls", errs)
}

// ValidateClient checks the etcd client settings (endpoints, dial timeout,
// credentials, TLS), adding each problem to errs under its etcd.* field;
// collect_key is the agent's own and checked by Config.Validate.
func (e EtcdConfig) ValidateClient(errs *config.Errors) {
	for i, ep := range e.Endpoints {
		if err := checkEndpoint(ep); err != nil {
			errs.BadValue(fmt.Sprintf("etcd.endpoints[%d]", i), ep, "%v", err)
		}
	}
	if e.DialTimeout < 0 {
		errs.BadValue("etcd.dial_timeout", e.DialTimeout, "must be > 0")
	}
	if e.Password != "" && e.Username == "" {
		errs.Addf("etcd.username", "required when etcd.password is set")
	}
	e.TLS.Validate("etcd.tls", errs)
}

// unjoin lists the errors of an errors.Join.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (c *Config) setDefaults() {
	config.SetDefault(&c.DataDir, "/var/lib/logagent")
	config.SetDefault(&c.Metrics.Listen, "127.0.0.1:9101")
	c.Log.SetDefaults()
	config.SetDefault(&c.ShutdownTimeout, Duration(30*time.Second))
	config.SetDefault(&c.Kafka.ClientID, "logagent")
	config.SetDefault(&c.Kafka.Compression, "zstd")
	config.SetDefault(&c.Kafka.Linger, Duration(10*time.Millisecond))
	config.SetDefault(&c.Kafka.MaxBufferedRecords, 10000)
	config.SetDefault(&c.Kafka.MaxBufferedBytes, 16<<20)
	config.SetDefault(&c.Etcd.DialTimeout, Duration(5*time.Second))
	config.SetDefault(&c.Etcd.CollectKey, defaultCollectKey)
	config.SetDefault(&c.Files.ScanFrequency, Duration(10*time.Second))
	config.SetDefault(&c.Files.CloseInactive, Duration(5*time.Minute))
	config.SetDefault(&c.Files.CleanRemoved, Duration(24*time.Hour))
}

// placeholder finds a {placeholder} left in a collect key.
var placeholder = regexp.MustCompile(`\{[^}]*\}`)

// checkEndpoint checks an etcd endpoint: host:port or a URL such as
// https://host:port or unix:///path.
func checkEndpoint(ep string) error {
	if !strings.Contains(ep, "://") {
		return config.CheckHostPort(ep, false)
	}
	u, err := config.ParseURL(ep)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "http", "https":
		return config.CheckHostPort(u.Host, false)
	case "unix", "unixs":
		return nil
	default:
		return fmt.Errorf("scheme %q: must be http, https, unix or unixs", u.Scheme)
	}
}
