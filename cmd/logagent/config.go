package main

import (
	"errors"
	"fmt"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/sysmon"
)

// fileConfig is logagent's config file: the agent's settings and an optional
// sysmon: section, which runs the host sampler in the same process, so that
// one process per host is enough. The agent knows nothing of sysmon; the two
// meet here.
type fileConfig struct {
	agent.Config `yaml:",inline"`
	// Sysmon has the keys of sysmon's own config file (without metrics and
	// log, which are the agent's); its host defaults to host.name.
	Sysmon *sysmon.Config `yaml:"sysmon"`
}

// validate sets defaults and checks both sections; sysmon's problems are
// named under sysmon.
func (c *fileConfig) validate() error {
	errs := config.Errors{}
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
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

// unjoin lists the errors of an errors.Join.
func unjoin(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}
