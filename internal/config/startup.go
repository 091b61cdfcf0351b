package config

import (
	"fmt"
	"io"
)

// Startup is the start-up sequence every binary shares, parameterised by the
// binary's config type C: after the flags are parsed, -version prints the
// version; otherwise the file named by -config (if any) is read, the flag
// overrides are applied over it, the result is validated, and -check-config
// prints a one-line summary.
type Startup[C any] struct {
	Version, Revision string                       // printed by -version
	Read              func(path string) (C, error) // reads the file without validating it
	Validate          func(*C) error               // sets defaults and checks, such as (*agent.Config).Validate
	Summary           func(*C) string              // -check-config prints "config ok: " and this
}

// Run parses args into fl and runs the sequence on *cfg, whose fields fl's
// overrides point to. It returns run=true when the binary should go on to
// serve with *cfg, and false after -version or -check-config, having printed
// their answer to stdout. A validation error is prefixed "config <path>: ",
// or "config: " without a file.
func (s Startup[C]) Run(fl *Flags, args []string, cfg *C, stdout io.Writer) (run bool, err error) {
	if err := fl.Parse(args); err != nil {
		return false, err
	}
	if fl.Version {
		_, err := fmt.Fprintf(stdout, "%s %s (revision %s)\n", fl.fs.Name(), s.Version, s.Revision)
		return false, err
	}
	if fl.ConfigPath != "" {
		c, err := s.Read(fl.ConfigPath)
		if err != nil {
			return false, err
		}
		*cfg = c
	}
	if err := fl.Apply(); err != nil {
		return false, err
	}
	if err := s.Validate(cfg); err != nil {
		if fl.ConfigPath != "" {
			return false, fmt.Errorf("config %s: %w", fl.ConfigPath, err)
		}
		return false, fmt.Errorf("config: %w", err)
	}
	if fl.CheckConfig {
		_, err := fmt.Fprintln(stdout, "config ok: "+s.Summary(cfg))
		return false, err
	}
	return true, nil
}
