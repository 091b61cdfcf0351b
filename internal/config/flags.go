package config

import (
	"flag"
	"strings"
)

// Flags is the command line every logcollect binary shares: -config,
// -version and -check-config, plus one flag per config field that the
// command line may override. Overrides are applied after the file is read,
// so a flag wins over the file.
type Flags struct {
	ConfigPath  string
	Version     bool
	CheckConfig bool

	fs        *flag.FlagSet
	overrides []func() error
}

// NewFlags returns the common flags of the binary called name.
func NewFlags(name string) *Flags {
	f := &Flags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.fs.StringVar(&f.ConfigPath, "config", "", "path of the YAML config file")
	f.fs.BoolVar(&f.Version, "version", false, "print the version and exit")
	f.fs.BoolVar(&f.CheckConfig, "check-config", false, "validate the config and exit")
	return f
}

// Override adds a flag that, when given, calls set with its value. set may
// reject the value.
func (f *Flags) Override(name, usage string, set func(string) error) {
	v := f.fs.String(name, "", usage)
	f.overrides = append(f.overrides, func() error {
		if *v == "" {
			return nil
		}
		return set(*v)
	})
}

// String adds a flag overriding the string *dst.
func (f *Flags) String(name, usage string, dst *string) {
	f.Override(name, usage, func(v string) error { *dst = v; return nil })
}

// List adds a flag overriding *dst with a comma-separated list.
func (f *Flags) List(name, usage string, dst *[]string) {
	f.Override(name, usage+" (comma-separated)", func(v string) error { *dst = strings.Split(v, ","); return nil })
}

// MetricsAndLog adds the flags every daemon has: -metrics.listen overriding
// *listen, -log.level and -log.format overriding log.
func (f *Flags) MetricsAndLog(listen *string, log *LogConfig) {
	f.String("metrics.listen", "metrics address (overrides metrics.listen)", listen)
	f.String("log.level", "debug|info|warn|error (overrides log.level)", &log.Level)
	f.String("log.format", "text|json (overrides log.format)", &log.Format)
}

// Parse parses the command line arguments.
func (f *Flags) Parse(args []string) error { return f.fs.Parse(args) }

// Apply sets the overridden fields; call it after reading the config file.
func (f *Flags) Apply() error {
	for _, o := range f.overrides {
		if err := o(); err != nil {
			return err
		}
	}
	return nil
}
