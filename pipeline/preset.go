package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// What the presets (nginx, syslog, cri, docker, kubernetes) share: they read
// one string field, may take a time zone for times written without one, and
// mark lines that are only part of a longer one.

// presetLine returns the string at field, or an error naming the field when
// it is missing, null or holds something else: a preset has nothing to parse
// then (see sourceText).
func presetLine(e *Event, field string) (string, error) {
	s, _, err := sourceText(e, field, false)
	return s, err
}

// presetField decodes the options of a preset that reads one field and
// takes no other option (cri, docker, kubernetes): the field, def when unset.
func presetField(pc ProcessorConfig, def string) (string, error) {
	var o struct {
		Field string `yaml:"field"`
	}
	if err := pc.decode(&o); err != nil {
		return "", err
	}
	if o.Field == "" {
		return def, nil
	}
	return o.Field, nil
}

// presetFormat decodes the options of a preset that reads several formats of
// line (nginx, syslog): field (default message), format (def when unset, or
// one of others) and timezone (see presetLocation).
func presetFormat(pc ProcessorConfig, def string, others ...string) (field, format string, loc *time.Location, err error) {
	var o struct {
		Field    string `yaml:"field"`
		Format   string `yaml:"format"`
		Timezone string `yaml:"timezone"`
	}
	if err := pc.decode(&o); err != nil {
		return "", "", nil, err
	}
	field, format = cmp.Or(o.Field, "message"), cmp.Or(o.Format, def)
	if format != def && !slices.Contains(others, format) {
		return "", "", nil, fmt.Errorf("format %q: want %s or %s", o.Format, strings.Join(others, ", "), def)
	}
	loc, err = presetLocation(o.Timezone)
	return field, format, loc, err
}

// presetLocation loads the zone of a `timezone` option: an IANA name such
// as Europe/Berlin, UTC (the default, for ""), or Local (the zone of the
// machine logtransfer runs on, which is rarely the one of the machine that
// wrote the line).
func presetLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %w", name, err)
	}
	return loc, nil
}

// PartialFlag is the log.flags value of an event that holds only part of a
// line: a CRI "P" record, or a docker json-file record without its newline.
// Container runtimes split lines longer than their buffer (16 KiB for
// Docker, 16 KiB by default for containerd and CRI-O) into such parts; the
// pipeline sees one record at a time and cannot join them.
const PartialFlag = "partial"

// addLogFlag appends flag to log.flags (ECS: a keyword list), keeping the
// flags there.
func addLogFlag(e *Event, flag string) error {
	v, _ := e.Get("log.flags")
	switch flags := v.(type) {
	case []any:
		return e.Put("log.flags", append(flags, flag))
	case string:
		return e.Put("log.flags", []any{flags, flag})
	default:
		return e.Put("log.flags", []any{flag})
	}
}

// presetDigits reports whether s is one or more ASCII digits: strconv's
// ParseInt also takes a sign, which no field of these formats has.
func presetDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
