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
// or "config: " without a file; it never shows a value read by ${file:}.
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
	if err := validate(fl.ConfigPath, cfg, s.Validate); err != nil {
		return false, err
	}
	if fl.CheckConfig {
		_, err := fmt.Fprintln(stdout, "config ok: "+s.Summary(cfg))
		return false, err
	}
	return true, nil
}

// LoadValidated reads the config file at path with read and validates it, for
// a binary's LoadConfig. A validation error is prefixed "config <path>: " and
// never shows a value read by ${file:}.
func LoadValidated[C any](path string, read func(string) (C, error), validateFn func(*C) error) (C, error) {
	c, err := read(path)
	if err != nil {
		var zero C
		return zero, err
	}
	if err := validate(path, &c, validateFn); err != nil {
		var zero C
		return zero, err
	}
	return c, nil
}

// validate runs validateFn on cfg, read from the file at path ("" for none),
// and words its error.
func validate[C any](path string, cfg *C, validateFn func(*C) error) error {
	err := WithoutFileSecrets(validateFn(cfg))
	switch {
	case err == nil:
		return nil
	case path != "":
		return fmt.Errorf("config %s: %w", path, err)
	default:
		return fmt.Errorf("config: %w", err)
	}
}
