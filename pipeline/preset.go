package pipeline

import (
	"fmt"
	"time"
)

// What the presets (nginx, syslog, cri, docker, kubernetes) share: they read
// one string field, may take a time zone for times written without one, and
// mark lines that are only part of a longer one.

// presetLine returns the string at field, or an error naming the field when
// it is missing or holds something else: a preset has nothing to parse then.
func presetLine(e *Event, field string) (string, error) {
	v, ok := e.Get(field)
	if !ok {
		return "", fmt.Errorf("field %s not found", field)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("field %s is %s, not a string", field, jsonKind(v))
	}
	return s, nil
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
