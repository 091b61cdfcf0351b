package pipeline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

func init() { register("timestamp", newTimestamp) }

// timestampProc takes the event's time from a field, so that a line is
// indexed at the time it happened (and in that day's index) rather than the
// time it was read:
//
//	timestamp: {field: time, formats: [RFC3339Nano, "2006-01-02 15:04:05.000"], timezone: UTC, target: "@timestamp", ignore_missing: false}
//
// formats are tried in order (see TimeParser: Go layouts, RFC3339,
// RFC3339Nano, ISO8601, nginx, syslog, UNIX, UNIX_MS, ...). timezone is the
// zone of times that carry none, an IANA name such as Europe/Berlin (default
// UTC); a time with its own offset keeps it. "Local" is refused: it is the
// zone of whichever server runs the pipeline, so the same line would get
// different times on different logtransfers, and in logctl.
//
// The field may hold a string, or a number (for UNIX and UNIX_MS, as JSON
// logs write them: 1765101600.123). target "@timestamp" (the default) sets
// the event's time with Event.SetTimestamp; another target gets the time as
// an RFC 3339 string in UTC. The source field stays (remove it with
// remove). A missing or null field is an error unless ignore_missing; a
// value in none of the formats is an error naming the field and the value.
type timestampProc struct {
	field, target string
	parser        *TimeParser
	ignoreMissing bool
}

func newTimestamp(pc ProcessorConfig) (Processor, error) {
	o := struct {
		Field         string   `yaml:"field"`
		Formats       []string `yaml:"formats"`
		Timezone      string   `yaml:"timezone"`
		Target        string   `yaml:"target"`
		IgnoreMissing bool     `yaml:"ignore_missing"`
	}{Target: "@timestamp", Timezone: "UTC"}
	if err := pc.decode(&o); err != nil {
		return nil, err
	}
	if o.Field == "" {
		return nil, errors.New("field: required, the field that holds the time")
	}
	if o.Target == "" {
		return nil, errors.New("target: must not be empty (default @timestamp)")
	}
	loc, err := loadZone(o.Timezone)
	if err != nil {
		return nil, err
	}
	parser, err := NewTimeParser(o.Formats, loc)
	if err != nil {
		return nil, err
	}
	return &timestampProc{field: o.Field, target: o.Target, parser: parser, ignoreMissing: o.IgnoreMissing}, nil
}

// loadZone returns the location of an IANA zone name. "Local" is refused,
// see timestampProc; "" is UTC.
func loadZone(name string) (*time.Location, error) {
	switch {
	case name == "" || name == "UTC":
		return time.UTC, nil
	case strings.EqualFold(name, "Local"):
		return nil, errors.New(`timezone: "Local" is refused: it is the zone of the server that runs the pipeline, which differs between servers; name the zone the logs are written in, such as Europe/Berlin`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("timezone: %q is not an IANA time zone name, such as UTC or Europe/Berlin", name)
	}
	return loc, nil
}

func (p *timestampProc) Process(e *Event) error {
	v, ok := e.Get(p.field)
	if !ok || v == nil {
		if p.ignoreMissing {
			return nil
		}
		return missingError(e, p.field)
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int64:
		s = strconv.FormatInt(v, 10)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Errorf("field %s is %s, not a time", p.field, jsonKind(v))
	}
	t, err := p.parser.Parse(s)
	if err != nil {
		return fmt.Errorf("field %s: %w", p.field, err)
	}
	if p.target == "@timestamp" {
		e.SetTimestamp(t)
		return nil
	}
	return e.Put(p.target, t.UTC().Format(time.RFC3339Nano))
}
