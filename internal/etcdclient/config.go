package etcdclient

import (
	"fmt"
	"strings"

	"github.com/logcollect/logcollect/internal/config"
)

// Config is the connection to etcd, under an etcd: key of the config file.
// Services embed it inline in their own etcd section.
type Config struct {
	Endpoints   []string         `yaml:"endpoints"`    // host:port or http(s)://host:port; empty: no etcd
	DialTimeout config.Duration  `yaml:"dial_timeout"` // default 5s
	Username    string           `yaml:"username"`
	Password    string           `yaml:"password"`
	TLS         config.TLSConfig `yaml:"tls"`
}

// Validate checks the settings, adding each problem to errs under its field
// path: prefix is the section's, such as "etcd". Defaults must be set first.
func (c Config) Validate(prefix string, errs *config.Errors) {
	for i, ep := range c.Endpoints {
		if err := checkEndpoint(ep); err != nil {
			errs.BadValue(fmt.Sprintf("%s.endpoints[%d]", prefix, i), ep, "%v", err)
		}
	}
	config.Positive(errs, prefix+".dial_timeout", c.DialTimeout)
	if c.Password != "" && c.Username == "" {
		errs.Addf(prefix+".username", "required when %s.password is set", prefix)
	}
	c.TLS.Validate(prefix+".tls", errs)
}

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
