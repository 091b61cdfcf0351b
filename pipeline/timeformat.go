package pipeline

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Named time formats, besides Go layouts such as "2006-01-02 15:04:05.000".
const (
	FormatUNIX   = "UNIX"    // seconds since the epoch, fractions allowed: 1733563200.123
	FormatUNIXMS = "UNIX_MS" // milliseconds since the epoch
	// FormatNginx is nginx's $time_local, Apache's %t: 07/Dec/2026:10:00:00 +0000.
	FormatNginx = "02/Jan/2006:15:04:05 -0700"
	// FormatSyslog is RFC 3164's timestamp, without a year: Dec  7 10:00:00.
	FormatSyslog = "Jan _2 15:04:05"
)

// namedLayouts are the format names a timestamp processor accepts besides Go
// layouts.
var namedLayouts = map[string]string{
	"RFC3339":     time.RFC3339,
	"RFC3339Nano": time.RFC3339Nano,
	"RFC1123":     time.RFC1123,
	"RFC1123Z":    time.RFC1123Z,
	"ANSIC":       time.ANSIC,
	"Stamp":       time.Stamp,
	"StampMilli":  time.StampMilli,
	"nginx":       FormatNginx,
	"syslog":      FormatSyslog,
}

// TimeParser parses times in a list of formats, tried in order: Go layouts,
// the names of namedLayouts, UNIX and UNIX_MS. A time without a zone is in
// loc; a layout without a year (syslog's) takes the year that puts the time
// nearest to now, so that a December line read in January is last year's.
type TimeParser struct {
	layouts []string
	loc     *time.Location
	now     func() time.Time
}

// NewTimeParser checks formats (at least one) and returns their parser; loc
// nil is UTC.
func NewTimeParser(formats []string, loc *time.Location) (*TimeParser, error) {
	if len(formats) == 0 {
		return nil, fmt.Errorf("formats: at least one is required")
	}
	if loc == nil {
		loc = time.UTC
	}
	p := &TimeParser{loc: loc, now: time.Now}
	for i, f := range formats {
		switch {
		case f == "":
			return nil, fmt.Errorf("formats[%d]: empty", i)
		case f == FormatUNIX || f == FormatUNIXMS:
			p.layouts = append(p.layouts, f)
		case namedLayouts[f] != "":
			p.layouts = append(p.layouts, namedLayouts[f])
		default:
			// A Go layout must name at least an hour or a day: a typo such as
			// "RFC3339nano" would otherwise parse only itself.
			if time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC).Format(f) == f {
				return nil, fmt.Errorf("formats[%d] %q: not a Go layout (such as 2006-01-02 15:04:05) nor a known name (RFC3339, RFC3339Nano, UNIX, UNIX_MS, nginx, syslog, ...)", i, f)
			}
			p.layouts = append(p.layouts, f)
		}
	}
	return p, nil
}

// Parse returns the time in s, in the first format that fits.
func (p *TimeParser) Parse(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range p.layouts {
		switch l {
		case FormatUNIX, FormatUNIXMS:
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				continue
			}
			if l == FormatUNIXMS {
				return time.UnixMilli(int64(f)).UTC(), nil
			}
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9)).Round(time.Microsecond).UTC(), nil
		}
		t, err := time.ParseInLocation(l, s, p.loc)
		if err != nil {
			continue
		}
		if t.Year() == 0 {
			t = p.withYear(t)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("time %q matches none of the formats", s)
}

// withYear gives t, parsed without a year, the year that puts it nearest to
// now: this year, or last year for a date more than a month ahead.
func (p *TimeParser) withYear(t time.Time) time.Time {
	now := p.now().In(p.loc)
	t = t.AddDate(now.Year(), 0, 0)
	if t.After(now.AddDate(0, 1, 0)) {
		t = t.AddDate(-1, 0, 0)
	}
	return t
}
