package esclient

import (
	"fmt"
	"net/url"

	"github.com/logcollect/logcollect/internal/config"
)

// Config is the connection to Elasticsearch (or a compatible engine), under
// an elasticsearch: key of the config file.
type Config struct {
	URLs     []string         `yaml:"urls"` // http(s)://host:port, at least one
	Username string           `yaml:"username"`
	Password string           `yaml:"password"`
	APIKey   string           `yaml:"api_key"` // base64 "id:key", sent as "Authorization: ApiKey …"
	TLS      config.TLSConfig `yaml:"tls"`     // for https URLs; without it, https uses the system roots
	// CAFile is the flat form of tls.ca_file, kept for configs written
	// before the tls block: set alone, it means tls.enabled with this CA.
	CAFile      string          `yaml:"ca_file"`
	Sniff       bool            `yaml:"sniff"` // default false: talk to the URLs given only
	Healthcheck bool            `yaml:"healthcheck"`
	Timeout     config.Duration `yaml:"timeout"` // per request; 0: none
}

// Validate checks c, adding each problem to errs under its field path:
// prefix is the section's, such as "elasticsearch".
func (c Config) Validate(prefix string, errs *config.Errors) {
	if len(c.URLs) == 0 {
		errs.Addf(prefix+".urls", "at least one URL is required")
	}
	https := false
	for i, u := range c.URLs {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			errs.BadValue(fmt.Sprintf("%s.urls[%d]", prefix, i), u, "must be http(s)://host:port")
			continue
		}
		https = https || pu.Scheme == "https"
	}
	if c.Password != "" && c.Username == "" {
		errs.Addf(prefix+".username", "required when %s.password is set", prefix)
	}
	if c.APIKey != "" && c.Username != "" {
		errs.Addf(prefix+".api_key", "set api_key or username/password, not both")
	}
	config.Positive(errs, prefix+".timeout", c.Timeout)
	if c.CAFile != "" && c.TLS.CAFile != "" && c.CAFile != c.TLS.CAFile {
		errs.Addf(prefix+".ca_file", "%s.tls.ca_file is also set, to another file: set %s.tls.ca_file only", prefix, prefix)
	}
	t := c.tlsConfig()
	t.Validate(prefix+".tls", errs)
	if t.Enabled && !https && len(c.URLs) > 0 {
		errs.Addf(prefix+".tls.enabled", "TLS needs https:// URLs")
	}
}

// tlsConfig is c.TLS with the flat CAFile folded in.
func (c Config) tlsConfig() config.TLSConfig {
	t := c.TLS
	if c.CAFile != "" && t.CAFile == "" {
		t.Enabled, t.CAFile = true, c.CAFile
	}
	return t
}
