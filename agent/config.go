package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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

// LogConfig configures the agent's own log.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info (default) | warn | error
	Format string `yaml:"format"` // text (default) | json
}

// FilesConfig configures how files are found and closed.
type FilesConfig struct {
	ScanFrequency Duration `yaml:"scan_frequency"` // default 10s: how often globs are re-expanded
	CloseInactive Duration `yaml:"close_inactive"` // default 5m
	IgnoreOlder   Duration `yaml:"ignore_older"`   // default 0 = off
	CleanRemoved  Duration `yaml:"clean_removed"`  // default 24h
}

const defaultCollectKey = "/logagent/{ip}/collect_config"

// LoadConfig reads the YAML config file at path, expands environment
// variables in it (see below), decodes it strictly (an unknown key is an error
// with its line number) and validates it (see Config.Validate).
//
// Only ${VAR} and ${VAR:-default} are expanded; the default is used when VAR
// is unset or empty. An unset ${VAR} without a default is an error. A lone $
// stays as it is, so regexps such as `foo$` are safe, and $${ is a literal ${.
// Lines whose first non-blank character is # (comments, or such a line in a
// block scalar) are not expanded; trailing comments are. Values are
// inserted verbatim, before YAML parsing: quote the reference ("${VAR}") when
// the value may contain YAML syntax such as ": " or " #".
func LoadConfig(path string) (Config, error) {
	c, err := ReadConfig(path)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ReadConfig is LoadConfig without Validate: no defaults are set and nothing
// is checked beyond the YAML itself. It is for callers that override some
// fields (from flags) and then call Validate.
func ReadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := decodeConfig(data, os.LookupEnv)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// decodeConfig expands the environment in data (lookup reads it) and decodes
// the result strictly.
func decodeConfig(data []byte, lookup func(string) (string, bool)) (Config, error) {
	data, err := expandEnv(data, lookup)
	if err != nil {
		return Config{}, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return Config{}, err
		}
		return Config{}, fmt.Errorf("line %d: a second YAML document is not allowed", extra.Line)
	}
	return c, nil
}

// envName is what expandEnv accepts as a variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandEnv expands ${VAR} and ${VAR:-default} in data; see LoadConfig.
func expandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, error) {
	if !bytes.Contains(data, []byte("${")) {
		return data, nil
	}
	out := make([]byte, 0, len(data))
	lineNo := 0
	for line := range bytes.Lines(data) {
		lineNo++
		if bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("#")) {
			out = append(out, line...)
			continue
		}
		for len(line) > 0 {
			i := bytes.IndexByte(line, '$')
			if i < 0 {
				out = append(out, line...)
				break
			}
			out, line = append(out, line[:i]...), line[i:]
			switch {
			case bytes.HasPrefix(line, []byte("$${")):
				out, line = append(out, "${"...), line[3:]
			case bytes.HasPrefix(line, []byte("${")):
				end := bytes.IndexByte(line, '}')
				if end < 0 {
					return nil, fmt.Errorf("line %d: unterminated ${ (write $${ for a literal ${)", lineNo)
				}
				name, def, hasDef := strings.Cut(string(line[2:end]), ":-")
				if !envName.MatchString(name) {
					return nil, fmt.Errorf("line %d: invalid variable reference %q: want ${NAME} or ${NAME:-default}", lineNo, line[:end+1])
				}
				v, ok := lookup(name)
				switch {
				case hasDef && v == "":
					v = def
				case !ok:
					return nil, fmt.Errorf("line %d: environment variable %s is not set (use ${%s:-default} for a default)", lineNo, name, name)
				}
				out, line = append(out, v...), line[end+1:]
			default:
				out, line = append(out, '$'), line[1:]
			}
		}
	}
	return out, nil
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
	var errs fieldErrors

	k := &c.Kafka
	if len(k.Brokers) == 0 {
		errs.addf("kafka.brokers", "at least one broker is required")
	}
	for i, b := range k.Brokers {
		if err := checkHostPort(b, false); err != nil {
			errs.badValue(fmt.Sprintf("kafka.brokers[%d]", i), b, "%v", err)
		}
	}
	if !slices.Contains([]string{"zstd", "none", "gzip", "snappy", "lz4"}, k.Compression) {
		errs.badValue("kafka.compression", k.Compression, "must be zstd, none, gzip, snappy or lz4")
	}
	errs.nonNegative("kafka.linger", k.Linger)
	if k.MaxBufferedRecords < 0 {
		errs.badValue("kafka.max_buffered_records", k.MaxBufferedRecords, "must be > 0")
	}
	if k.MaxBufferedBytes < 0 {
		errs.badValue("kafka.max_buffered_bytes", k.MaxBufferedBytes, "must be > 0")
	}
	switch k.SASL.Mechanism {
	case "":
		if k.SASL.Username != "" || k.SASL.Password != "" {
			errs.addf("kafka.sasl.mechanism", "must be set when kafka.sasl.username or password is set")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if k.SASL.Username == "" {
			errs.addf("kafka.sasl.username", "required with mechanism %s", k.SASL.Mechanism)
		}
	default:
		errs.badValue("kafka.sasl.mechanism", k.SASL.Mechanism, "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	}
	k.TLS.validate("kafka.tls", &errs)

	e := &c.Etcd
	for i, ep := range e.Endpoints {
		if err := checkEndpoint(ep); err != nil {
			errs.badValue(fmt.Sprintf("etcd.endpoints[%d]", i), ep, "%v", err)
		}
	}
	if e.DialTimeout < 0 {
		errs.badValue("etcd.dial_timeout", e.DialTimeout, "must be > 0")
	}
	if !strings.HasPrefix(e.CollectKey, "/") {
		errs.badValue("etcd.collect_key", e.CollectKey, "must start with /")
	}
	if p := placeholder.FindString(strings.NewReplacer("{ip}", "", "{hostname}", "").Replace(e.CollectKey)); p != "" {
		errs.badValue("etcd.collect_key", e.CollectKey, "unknown placeholder %s, want {ip} or {hostname}", p)
	}
	if e.Password != "" && e.Username == "" {
		errs.addf("etcd.username", "required when etcd.password is set")
	}
	e.TLS.validate("etcd.tls", &errs)

	if c.Host.IP != "" && net.ParseIP(c.Host.IP) == nil {
		errs.badValue("host.ip", c.Host.IP, "not an IP address")
	}
	if err := checkHostPort(c.Metrics.Listen, true); err != nil {
		errs.badValue("metrics.listen", c.Metrics.Listen, "%v", err)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		errs.badValue("log.level", c.Log.Level, "must be debug, info, warn or error")
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		errs.badValue("log.format", c.Log.Format, "must be text or json")
	}
	errs.nonNegative("files.scan_frequency", c.Files.ScanFrequency)
	errs.nonNegative("files.close_inactive", c.Files.CloseInactive)
	errs.nonNegative("files.ignore_older", c.Files.IgnoreOlder)
	errs.nonNegative("files.clean_removed", c.Files.CleanRemoved)
	if c.ShutdownTimeout < 0 {
		errs.badValue("shutdown_timeout", c.ShutdownTimeout, "must be > 0")
	}

	tasks, err := ValidateTasks(c.Tasks)
	if err != nil {
		errs = append(errs, fmt.Errorf("tasks: %w", err))
	} else {
		c.Tasks = tasks
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	setDefault(&c.DataDir, "/var/lib/logagent")
	setDefault(&c.Metrics.Listen, "127.0.0.1:9101")
	setDefault(&c.Log.Level, "info")
	setDefault(&c.Log.Format, "text")
	setDefault(&c.ShutdownTimeout, Duration(30*time.Second))
	setDefault(&c.Kafka.ClientID, "logagent")
	setDefault(&c.Kafka.Compression, "zstd")
	setDefault(&c.Kafka.Linger, Duration(10*time.Millisecond))
	setDefault(&c.Kafka.MaxBufferedRecords, 10000)
	setDefault(&c.Kafka.MaxBufferedBytes, 16<<20)
	setDefault(&c.Etcd.DialTimeout, Duration(5*time.Second))
	setDefault(&c.Etcd.CollectKey, defaultCollectKey)
	setDefault(&c.Files.ScanFrequency, Duration(10*time.Second))
	setDefault(&c.Files.CloseInactive, Duration(5*time.Minute))
	setDefault(&c.Files.CleanRemoved, Duration(24*time.Hour))
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// placeholder finds a {placeholder} left in a collect key.
var placeholder = regexp.MustCompile(`\{[^}]*\}`)

// checkHostPort checks a host:port address. For a listen address the host
// may be empty (all interfaces) and the port 0 (any free port).
func checkHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if ae, ok := errors.AsType[*net.AddrError](err); ok {
			return fmt.Errorf("must be host:port: %s", ae.Err)
		}
		return fmt.Errorf("must be host:port: %w", err)
	}
	if host == "" && !listen {
		return errors.New("must be host:port: missing host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		return fmt.Errorf("must be host:port: invalid port %q", port)
	}
	return nil
}

// checkEndpoint checks an etcd endpoint: host:port or a URL such as
// https://host:port or unix:///path.
func checkEndpoint(ep string) error {
	if !strings.Contains(ep, "://") {
		return checkHostPort(ep, false)
	}
	u, err := url.Parse(ep)
	if err != nil {
		return fmt.Errorf("invalid URL: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		return checkHostPort(u.Host, false)
	case "unix", "unixs":
		return nil
	default:
		return fmt.Errorf("scheme %q: must be http, https, unix or unixs", u.Scheme)
	}
}

// fieldErrors collects validation errors, each naming a field.
type fieldErrors []error

func (e *fieldErrors) addf(field, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// badValue adds an error about a field's value: `field "value": message`.
func (e *fieldErrors) badValue(field string, value any, format string, args ...any) {
	if s, ok := value.(string); ok {
		value = strconv.Quote(s)
	}
	*e = append(*e, fmt.Errorf("%s %v: %s", field, value, fmt.Sprintf(format, args...)))
}

func (e *fieldErrors) nonNegative(field string, d Duration) {
	if d < 0 {
		e.badValue(field, d, "must be >= 0")
	}
}
