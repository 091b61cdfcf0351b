package agent

import (
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/etcdclient"
	"github.com/logcollect/logcollect/internal/kafkaclient"
)

// Config is the logagent configuration, read from a YAML file by LoadConfig.
// testdata/agent.yaml documents every key with its default. (The logagent
// binary also reads a sysmon: section from the same file, to run the host
// sampler in its process; the agent itself knows nothing of it.)
type Config struct {
	Kafka           KafkaConfig    `yaml:"kafka"`
	Etcd            EtcdConfig     `yaml:"etcd"`
	Host            HostConfig     `yaml:"host"`
	DataDir         string         `yaml:"data_dir"` // default "/var/lib/logagent"
	Metrics         MetricsConfig  `yaml:"metrics"`
	Log             LogConfig      `yaml:"log"`
	Files           FilesConfig    `yaml:"files"`
	Tasks           []collect.Task `yaml:"tasks"`            // used when etcd.endpoints is empty
	ShutdownTimeout Duration       `yaml:"shutdown_timeout"` // default 30s: how long SIGTERM waits for buffered records
	MemoryLimit     int64          `yaml:"memory_limit"`     // default 64 MiB: the Go runtime's soft memory limit (see ApplyMemoryLimit)
}

// KafkaConfig is the Kafka producer plus the topics a collect config from
// etcd may name.
type KafkaConfig struct {
	kafkaclient.ProducerConfig `yaml:",inline"`
	// AllowedTopics are globs; a collect config from etcd naming another
	// topic is refused. Empty: any topic. Tasks of the config file are not
	// restricted.
	AllowedTopics []string `yaml:"allowed_topics"`
}

// defaultMemoryLimit is memory_limit when unset: above what the agent needs
// with its default in-flight caps (16 MiB of records), so that it only
// makes the GC return memory sooner.
const defaultMemoryLimit = 64 << 20

// ApplyMemoryLimit sets the Go runtime's soft memory limit
// (runtime/debug.SetMemoryLimit) to memory_limit, unless the GOMEMLIMIT
// environment variable is set: the runtime has applied it, and it wins. It
// returns the limit in effect and where it came from, for the startup log.
// It changes the whole process: cmd/logagent calls it once, after Validate.
func (c Config) ApplyMemoryLimit() (limit int64, source string) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	}
	debug.SetMemoryLimit(c.MemoryLimit)
	return c.MemoryLimit, "memory_limit"
}

// EtcdConfig configures where collect tasks come from: the etcd connection
// (no endpoints: no etcd, the tasks come from the YAML file) and the key.
type EtcdConfig struct {
	etcdclient.Config `yaml:",inline"`
	CollectKey        string `yaml:"collect_key"` // default collect.DefaultCollectKey; {ip} and {hostname} placeholders
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

// FilesConfig configures which files remote configs may name and how files
// are found and closed.
type FilesConfig struct {
	// AllowedPaths are globs (** for any number of directories) of the
	// files a collect config from etcd may name, checked with symlinks
	// resolved; default collect.DefaultAllowedPaths (/var/log/**). Tasks of
	// the config file are not restricted. See collect.Policy.
	AllowedPaths  []string `yaml:"allowed_paths"`
	ScanFrequency Duration `yaml:"scan_frequency"` // default 10s: how often globs are re-expanded
	CloseInactive Duration `yaml:"close_inactive"` // default 5m
	IgnoreOlder   Duration `yaml:"ignore_older"`   // default 0 = off
	CleanRemoved  Duration `yaml:"clean_removed"`  // default 24h
	// MaxOpenFiles bounds the files read at once (one harvester, one
	// descriptor each); more wait their turn. 0 (default): half of
	// ulimit -n, at most 4096, resolved by New.
	MaxOpenFiles int `yaml:"max_open_files"`
}

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
func ReadConfig(path string) (Config, error) { return config.Read[Config](path) }

// ExpandCollectKey returns the etcd key holding this host's tasks: the
// collect_key with {ip} and {hostname} replaced. Call it after Validate.
func (c Config) ExpandCollectKey(ip, hostname string) string {
	return collect.ExpandCollectKey(c.Etcd.CollectKey, ip, hostname)
}

// Validate sets defaults for unset fields, then checks the whole config. The
// error lists every problem, each prefixed by the field's path in the YAML
// file, such as `kafka.brokers: at least one broker is required`. Tasks are
// replaced by their validated copy (see ValidateTasks).
func (c *Config) Validate() error {
	c.setDefaults()
	var errs config.Errors

	c.Kafka.Validate("kafka", &errs)
	c.Etcd.Validate("etcd", &errs)
	if err := collect.CheckCollectKey(c.Etcd.CollectKey); err != nil {
		errs.BadValue("etcd.collect_key", c.Etcd.CollectKey, "%v", err)
	}

	if c.Host.IP != "" && net.ParseIP(c.Host.IP) == nil {
		errs.BadValue("host.ip", c.Host.IP, "not an IP address")
	}
	if err := config.CheckHostPort(c.Metrics.Listen, true); err != nil {
		errs.BadValue("metrics.listen", c.Metrics.Listen, "%v", err)
	}
	c.Log.Validate("log", &errs)
	if len(c.Files.AllowedPaths) == 0 {
		errs.Addf("files.allowed_paths", `must not be empty (["/**"] allows every file)`)
	}
	for i, rule := range c.Files.AllowedPaths {
		if err := collect.CheckPathRule(rule); err != nil {
			errs.BadValue(fmt.Sprintf("files.allowed_paths[%d]", i), rule, "%v", err)
		}
	}
	for i, rule := range c.Kafka.AllowedTopics {
		if err := collect.CheckTopicRule(rule); err != nil {
			errs.BadValue(fmt.Sprintf("kafka.allowed_topics[%d]", i), rule, "%v", err)
		}
	}
	errs.NonNegative("files.scan_frequency", c.Files.ScanFrequency)
	errs.NonNegative("files.close_inactive", c.Files.CloseInactive)
	errs.NonNegative("files.ignore_older", c.Files.IgnoreOlder)
	errs.NonNegative("files.clean_removed", c.Files.CleanRemoved)
	if c.Files.MaxOpenFiles < 0 {
		errs.BadValue("files.max_open_files", c.Files.MaxOpenFiles, "must be >= 0 (0: half of ulimit -n, at most %d)", maxOpenFilesAuto)
	}
	config.Positive(&errs, "shutdown_timeout", c.ShutdownTimeout)
	if c.MemoryLimit < 0 {
		errs.BadValue("memory_limit", c.MemoryLimit, "must be >= 0 (bytes; 0: %d)", defaultMemoryLimit)
	}

	tasks, err := collect.ValidateTasks(c.Tasks)
	if err != nil {
		errs = append(errs, fmt.Errorf("tasks: %w", err))
	} else {
		c.Tasks = tasks
	}
	return errs.Err()
}

func (c *Config) setDefaults() {
	config.SetDefault(&c.DataDir, "/var/lib/logagent")
	config.SetDefault(&c.Metrics.Listen, "127.0.0.1:9101")
	c.Log.SetDefaults()
	config.SetDefault(&c.ShutdownTimeout, Duration(30*time.Second))
	config.SetDefault(&c.MemoryLimit, defaultMemoryLimit)
	config.SetDefault(&c.Kafka.ClientID, "logagent")
	config.SetDefault(&c.Kafka.Compression, "zstd")
	config.SetDefault(&c.Kafka.Linger, Duration(10*time.Millisecond))
	config.SetDefault(&c.Kafka.MaxBufferedRecords, 10000)
	config.SetDefault(&c.Kafka.MaxBufferedBytes, 16<<20)
	config.SetDefault(&c.Etcd.DialTimeout, Duration(5*time.Second))
	config.SetDefault(&c.Etcd.CollectKey, collect.DefaultCollectKey)
	if c.Files.AllowedPaths == nil {
		c.Files.AllowedPaths = slices.Clone(collect.DefaultAllowedPaths)
	}
	config.SetDefault(&c.Files.ScanFrequency, Duration(10*time.Second))
	config.SetDefault(&c.Files.CloseInactive, Duration(5*time.Minute))
	config.SetDefault(&c.Files.CleanRemoved, Duration(24*time.Hour))
}
