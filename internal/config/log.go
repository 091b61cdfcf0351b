package config

import (
	"io"
	"log/slog"
	"slices"
)

// LogConfig configures a binary's own log: the `log` section of every config
// file.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info (default) | warn | error
	Format string `yaml:"format"` // text (default) | json
}

// SetDefaults sets the level to info and the format to text when unset.
func (c *LogConfig) SetDefaults() {
	SetDefault(&c.Level, "info")
	SetDefault(&c.Format, "text")
}

// Validate checks c and adds what is wrong to errs, each field prefixed by
// prefix, such as `log.level "trace": must be debug, info, warn or error`.
func (c LogConfig) Validate(prefix string, errs *Errors) {
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Level) {
		errs.BadValue(prefix+".level", c.Level, "must be debug, info, warn or error")
	}
	if c.Format != "text" && c.Format != "json" {
		errs.BadValue(prefix+".format", c.Format, "must be text or json")
	}
}

// NewLogger returns a logger writing to w at c's level, as JSON or as text.
// Call it after Validate: an unknown level means info, an unknown format text.
func (c LogConfig) NewLogger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
