package sysmon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config configures the sampler and its InfluxDB writer: what New takes. The standalone
// binary reads it from a YAML file together with its metrics and log settings (FileConfig);
// testdata/sysmon.yaml documents every key with its default.
type Config struct {
	Interval        Duration          `yaml:"interval"`         // default 10s; samples are aligned to it
	Host            string            `yaml:"host"`             // the host tag; default: os.Hostname()
	Tags            map[string]string `yaml:"tags"`             // extra tags on every point
	Influx          InfluxConfig      `yaml:"influx"`           //
	CPU             CPUConfig         `yaml:"cpu"`              //
	Disk            DiskConfig        `yaml:"disk"`             //
	DiskIO          DiskIOConfig      `yaml:"diskio"`           //
	Net             NetConfig         `yaml:"net"`              //
	ShutdownTimeout Duration          `yaml:"shutdown_timeout"` // default 10s: how long a stop waits for buffered points
}

// InfluxConfig configures the InfluxDB writer. InfluxDB 1.8+ is written through its
// v2-compatible API: org "", bucket "db" or "db/rp", token "user:password" (or "" without
// authentication).
type InfluxConfig struct {
	URL               string   `yaml:"url"`                 // required: http(s)://host:port
	Org               string   `yaml:"org"`                 // InfluxDB 2.x organization; "" for 1.8
	Bucket            string   `yaml:"bucket"`              // required
	Token             string   `yaml:"token"`               // InfluxDB 2.x API token; "user:password" for 1.8
	BatchSize         int      `yaml:"batch_size"`          // default 5000 points per write request
	Timeout           Duration `yaml:"timeout"`             // default 10s per write request
	MaxRetryDelay     Duration `yaml:"max_retry_delay"`     // default 30s: cap of the backoff between retries
	MaxBufferedPoints int      `yaml:"max_buffered_points"` // default 100000; beyond it the oldest are dropped
}

// CPUConfig configures the cpu measurement.
type CPUConfig struct {
	PerCPU       bool `yaml:"per_cpu"`       // default false: only cpu=cpu-total
	ReportActive bool `yaml:"report_active"` // default false: add usage_active
}

// DiskConfig configures the disk measurement. Patterns are path.Match globs.
type DiskConfig struct {
	MountPoints       []string `yaml:"mount_points"`        // include; empty = all
	IgnoreMountPoints []string `yaml:"ignore_mount_points"` // exclude
	IgnoreFS          []string `yaml:"ignore_fs"`           // exclude by file system type; default DefaultIgnoreFS
}

// DiskIOConfig configures the diskio measurement. Patterns are path.Match globs.
type DiskIOConfig struct {
	Devices       []string `yaml:"devices"`        // include; empty = all
	IgnoreDevices []string `yaml:"ignore_devices"` // exclude; default ["loop*", "ram*"]
}

// NetConfig configures the net measurement. Patterns are path.Match globs.
type NetConfig struct {
	// Interfaces to include. Empty means every interface that is up and not a loopback (as
	// Telegraf); when set, matching interfaces are reported whatever their state.
	Interfaces       []string `yaml:"interfaces"`
	IgnoreInterfaces []string `yaml:"ignore_interfaces"` // exclude
}

// FileConfig is the standalone sysmon's config file: Config plus the metrics endpoint and
// the log.
type FileConfig struct {
	Config  `yaml:",inline"`
	Metrics MetricsConfig `yaml:"metrics"`
	Log     LogConfig     `yaml:"log"`
}

// MetricsConfig configures the Prometheus endpoint.
type MetricsConfig struct {
	Listen string `yaml:"listen"` // default "127.0.0.1:9103"
}

// LogConfig configures sysmon's own log.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info (default) | warn | error
	Format string `yaml:"format"` // text (default) | json
}

// DefaultIgnoreFS are the file system types the disk measurement skips by default:
// Telegraf's default ignore_fs plus the pseudo file systems Telegraf skips because their
// size is 0 (listing them saves a statfs each).
var DefaultIgnoreFS = []string{
	"tmpfs", "devtmpfs", "devfs", "iso9660", "overlay", "aufs", "squashfs",
	"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
	"efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs",
	"rpc_pipefs", "securityfs", "selinuxfs", "sysfs", "tracefs",
}

// DefaultIgnoreDevices are the block devices the diskio measurement skips by default.
var DefaultIgnoreDevices = []string{"loop*", "ram*"}

// LoadConfig reads the YAML config file at path, expands environment variables in it (as
// logagent does: ${VAR} and ${VAR:-default}; see expandEnv), decodes it strictly (an
// unknown key is an error with its line number) and validates it (see FileConfig.Validate).
func LoadConfig(path string) (FileConfig, error) {
	c, err := ReadConfig(path)
	if err != nil {
		return FileConfig{}, err
	}
	if err := c.Validate(); err != nil {
		return FileConfig{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ReadConfig is LoadConfig without Validate, for callers that override fields (from flags)
// and then call Validate.
func ReadConfig(path string) (FileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return FileConfig{}, fmt.Errorf("read config: %w", err)
	}
	c, err := decodeConfig(data, os.LookupEnv)
	if err != nil {
		return FileConfig{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func decodeConfig(data []byte, lookup func(string) (string, bool)) (FileConfig, error) {
	data, err := expandEnv(data, lookup)
	if err != nil {
		return FileConfig{}, err
	}
	var c FileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return FileConfig{}, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return FileConfig{}, err
		}
		return FileConfig{}, fmt.Errorf("line %d: a second YAML document is not allowed", extra.Line)
	}
	return c, nil
}

// envRef matches what expandEnv replaces: $${ (a literal ${) or ${NAME} / ${NAME:-default}.
var envRef = regexp.MustCompile(`\$\$\{|\$\{([^}]*)\}?`)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandEnv expands ${VAR} and ${VAR:-default} (default when VAR is unset or empty) with
// logagent's rules: an unset ${VAR} without default is an error, a lone $ stays, $${ is a
// literal ${, and lines whose first non-blank character is # are left alone.
//
// It duplicates agent's unexported expandEnv on purpose: sysmon must not import agent (the
// agent embeds sysmon). Both should move to one shared package.
func expandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, error) {
	if !bytes.Contains(data, []byte("${")) {
		return data, nil
	}
	var out bytes.Buffer
	lineNo := 0
	for line := range bytes.Lines(data) {
		lineNo++
		if bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("#")) {
			out.Write(line)
			continue
		}
		var err error
		out.Write(envRef.ReplaceAllFunc(line, func(ref []byte) []byte {
			if string(ref) == "$${" {
				return []byte("${")
			}
			if err != nil {
				return nil
			}
			if !bytes.HasSuffix(ref, []byte("}")) {
				err = fmt.Errorf("line %d: unterminated ${ (write $${ for a literal ${)", lineNo)
				return nil
			}
			name, def, hasDef := strings.Cut(string(ref[2:len(ref)-1]), ":-")
			if !envName.MatchString(name) {
				err = fmt.Errorf("line %d: invalid variable reference %q: want ${NAME} or ${NAME:-default}", lineNo, ref)
				return nil
			}
			v, ok := lookup(name)
			switch {
			case hasDef && v == "":
				v = def
			case !ok:
				err = fmt.Errorf("line %d: environment variable %s is not set (use ${%s:-default} for a default)", lineNo, name, name)
			}
			return []byte(v)
		}))
		if err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// Validate sets defaults for unset fields and checks the whole file config; see
// Config.Validate.
func (c *FileConfig) Validate() error {
	err := c.Config.Validate()
	var errs fieldErrors
	setDefault(&c.Metrics.Listen, "127.0.0.1:9103")
	setDefault(&c.Log.Level, "info")
	setDefault(&c.Log.Format, "text")
	if err := checkListen(c.Metrics.Listen); err != nil {
		errs.badValue("metrics.listen", c.Metrics.Listen, "%v", err)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		errs.badValue("log.level", c.Log.Level, "must be debug, info, warn or error")
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		errs.badValue("log.format", c.Log.Format, "must be text or json")
	}
	return errors.Join(err, errors.Join(errs...))
}

// Validate sets defaults for unset fields, then checks the config. The error lists every
// problem, each prefixed by the field's path in the YAML file, such as
// `influx.url: required`.
func (c *Config) Validate() error {
	c.setDefaults()
	var errs fieldErrors

	if c.Interval < Duration(time.Millisecond) {
		errs.badValue("interval", c.Interval, "must be >= 1ms")
	}
	for k := range c.Tags {
		if k == "" || k == "host" {
			errs.badValue("tags", k, "tag key must not be empty or host (use host: to set it)")
		}
	}

	in := &c.Influx
	switch u, err := url.Parse(in.URL); {
	case in.URL == "":
		errs.addf("influx.url", "required")
	case err != nil:
		errs.badValue("influx.url", in.URL, "%v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		errs.badValue("influx.url", in.URL, "scheme must be http or https")
	case u.Host == "":
		errs.badValue("influx.url", in.URL, "missing host")
	}
	if in.Bucket == "" {
		errs.addf("influx.bucket", "required (InfluxDB 1.8: \"db\" or \"db/rp\")")
	}
	if in.BatchSize < 0 {
		errs.badValue("influx.batch_size", in.BatchSize, "must be > 0")
	}
	if in.Timeout < 0 {
		errs.badValue("influx.timeout", in.Timeout, "must be > 0")
	}
	if in.MaxRetryDelay < 0 {
		errs.badValue("influx.max_retry_delay", in.MaxRetryDelay, "must be > 0")
	}
	if in.MaxBufferedPoints < 0 {
		errs.badValue("influx.max_buffered_points", in.MaxBufferedPoints, "must be > 0")
	}
	if c.ShutdownTimeout < 0 {
		errs.badValue("shutdown_timeout", c.ShutdownTimeout, "must be > 0")
	}

	for field, patterns := range map[string][]string{
		"disk.mount_points":        c.Disk.MountPoints,
		"disk.ignore_mount_points": c.Disk.IgnoreMountPoints,
		"diskio.devices":           c.DiskIO.Devices,
		"diskio.ignore_devices":    c.DiskIO.IgnoreDevices,
		"net.interfaces":           c.Net.Interfaces,
		"net.ignore_interfaces":    c.Net.IgnoreInterfaces,
	} {
		for i, p := range patterns {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				errs.badValue(fmt.Sprintf("%s[%d]", field, i), p, "not a valid glob pattern")
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	setDefault(&c.Interval, Duration(10*time.Second))
	setDefault(&c.ShutdownTimeout, Duration(10*time.Second))
	setDefault(&c.Influx.BatchSize, 5000)
	setDefault(&c.Influx.Timeout, Duration(10*time.Second))
	setDefault(&c.Influx.MaxRetryDelay, Duration(30*time.Second))
	setDefault(&c.Influx.MaxBufferedPoints, 100_000)
	// nil means unset; an explicit [] turns the default list off.
	if c.Disk.IgnoreFS == nil {
		c.Disk.IgnoreFS = slices.Clone(DefaultIgnoreFS)
	}
	if c.DiskIO.IgnoreDevices == nil {
		c.DiskIO.IgnoreDevices = slices.Clone(DefaultIgnoreDevices)
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// checkListen checks a listen address: host:port, the host may be empty, the port 0.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		if ae, ok := errors.AsType[*net.AddrError](err); ok {
			return fmt.Errorf("must be host:port: %s", ae.Err)
		}
		return fmt.Errorf("must be host:port: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("must be host:port: invalid port %q", port)
	}
	return nil
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

// Duration is a time.Duration written as a Go duration string ("10s", "1m30s"). A bare
// number is rejected: it has no unit. (Same contract as agent.Duration, which sysmon cannot
// import.)
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns the Go duration string, such as "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes d as a YAML string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a YAML string such as 5s or "5s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: cannot use %q as a duration: want a string such as 10s or 1m30s", n.Line, n.Value)}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid duration: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}
