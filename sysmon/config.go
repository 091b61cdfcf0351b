package sysmon

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/logcollect/logcollect/internal/config"
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
	URL               string   `yaml:"url"`                 // http(s)://host:port; empty: sample without storing (see Sysmon.Run)
	Org               string   `yaml:"org"`                 // InfluxDB 2.x organization; "" for 1.8
	Bucket            string   `yaml:"bucket"`              // required with url
	Token             string   `yaml:"token"`               // InfluxDB 2.x API token; "user:password" for 1.8
	BatchSize         int      `yaml:"batch_size"`          // default 5000 points per write request
	Timeout           Duration `yaml:"timeout"`             // default 10s per write request
	MaxRetryDelay     Duration `yaml:"max_retry_delay"`     // default 30s: cap of the backoff between retries
	MaxBufferedPoints int      `yaml:"max_buffered_points"` // default 100000; beyond it the oldest are dropped
	// TLS for an https url: the CA that signed InfluxDB's certificate (default: the system
	// roots), an optional client certificate, and insecure_skip_verify, which must be set
	// explicitly.
	TLS config.TLSConfig `yaml:"tls"`
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

// Duration is a time.Duration written in config files as a Go duration string such as
// "10s"; a bare number is rejected. See config.Duration.
type Duration = config.Duration

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

// LogConfig configures sysmon's own log; see config.LogConfig.
type LogConfig = config.LogConfig

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

// LoadConfig reads the YAML config file at path with config.Load, which expands environment
// variables in it (as logagent does: ${VAR} and ${VAR:-default}; see config.ExpandEnv) and
// decodes it strictly (an unknown key is an error with its line number), then validates it
// (see FileConfig.Validate).
func LoadConfig(path string) (FileConfig, error) {
	return config.LoadValidated(path, ReadConfig, (*FileConfig).Validate)
}

// ReadConfig is LoadConfig without Validate, for callers that override fields (from flags)
// and then call Validate.
func ReadConfig(path string) (FileConfig, error) { return config.Read[FileConfig](path) }

// Validate sets defaults for unset fields and checks the whole file config; see
// Config.Validate.
func (c *FileConfig) Validate() error {
	err := c.Config.Validate()
	var errs config.Errors
	config.SetDefault(&c.Metrics.Listen, "127.0.0.1:9103")
	c.Log.SetDefaults()
	if err := config.CheckHostPort(c.Metrics.Listen, true); err != nil {
		errs.BadValue("metrics.listen", c.Metrics.Listen, "%v", err)
	}
	c.Log.Validate("log", &errs)
	return errors.Join(err, errs.Err())
}

// Validate sets defaults for unset fields, then checks the config. The error lists every
// problem, each prefixed by the field's path in the YAML file, such as
// `influx.bucket: required`. An empty influx.url is valid: see Config.Stores.
func (c *Config) Validate() error {
	c.setDefaults()
	var errs config.Errors

	if c.Interval < Duration(time.Millisecond) {
		errs.BadValue("interval", c.Interval, "must be >= 1ms")
	}
	for k := range c.Tags {
		if k == "" || k == "host" {
			errs.BadValue("tags", k, "tag key must not be empty or host (use host: to set it)")
		}
	}

	in := &c.Influx
	switch u, err := config.ParseURL(in.URL); {
	case in.URL == "":
		// No output: sysmon samples and serves its metrics, and stores nothing.
	case err != nil:
		errs.BadValue("influx.url", in.URL, "%v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		errs.BadValue("influx.url", in.URL, "scheme must be http or https")
	case u.Host == "":
		errs.BadValue("influx.url", in.URL, "missing host")
	case in.TLS.Enabled && u.Scheme != "https":
		errs.Addf("influx.tls.enabled", "set but influx.url is not https://")
	}
	in.TLS.Validate("influx.tls", &errs)
	if in.URL != "" && in.Bucket == "" {
		errs.Addf("influx.bucket", "required (InfluxDB 1.8: \"db\" or \"db/rp\")")
	}
	config.Positive(&errs, "influx.batch_size", in.BatchSize)
	config.Positive(&errs, "influx.timeout", in.Timeout)
	config.Positive(&errs, "influx.max_retry_delay", in.MaxRetryDelay)
	config.Positive(&errs, "influx.max_buffered_points", in.MaxBufferedPoints)
	config.Positive(&errs, "shutdown_timeout", c.ShutdownTimeout)

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
				errs.BadValue(fmt.Sprintf("%s[%d]", field, i), p, "not a valid glob pattern")
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs.Err()
}

// Stores reports whether the config names an InfluxDB to write the samples to. Without one
// (an empty influx.url) sysmon still samples, for its own metrics, and stores nothing.
func (c *Config) Stores() bool { return c.Influx.URL != "" }

func (c *Config) setDefaults() {
	config.SetDefault(&c.Interval, Duration(10*time.Second))
	config.SetDefault(&c.ShutdownTimeout, Duration(10*time.Second))
	config.SetDefault(&c.Influx.BatchSize, 5000)
	config.SetDefault(&c.Influx.Timeout, Duration(10*time.Second))
	config.SetDefault(&c.Influx.MaxRetryDelay, Duration(30*time.Second))
	config.SetDefault(&c.Influx.MaxBufferedPoints, 100_000)
	// nil means unset; an explicit [] turns the default list off.
	if c.Disk.IgnoreFS == nil {
		c.Disk.IgnoreFS = slices.Clone(DefaultIgnoreFS)
	}
	if c.DiskIO.IgnoreDevices == nil {
		c.DiskIO.IgnoreDevices = slices.Clone(DefaultIgnoreDevices)
	}
}
