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
	// FormatISO8601 is Elasticsearch's ISO8601 (strict_date_optional_time):
	// a date, optionally a time with a T or a space and fractions of a
	// second, optionally a zone (Z, +01:00 or +0100). It stands for the
	// layouts of iso8601Layouts.
	FormatISO8601 = "ISO8601"
)

// iso8601Layouts are what FormatISO8601 tries, the most precise first. Go's
// parser takes fractions of a second (with . or ,) after the seconds
// without their being in the layout.
var iso8601Layouts = []string{
	"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05Z0700", "2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02",
}

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
// the names of namedLayouts, ISO8601, UNIX and UNIX_MS. A time without a zone is in
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
		case f == FormatISO8601:
			p.layouts = append(p.layouts, iso8601Layouts...)
		case namedLayouts[f] != "":
			p.layouts = append(p.layouts, namedLayouts[f])
		default:
			// A Go layout must name at least a day or the minutes: a typo
			// such as "RFC3339nano" is a layout too (its 3s are hours of a
			// 12-hour clock), which would parse only itself. Times a day
			// apart, or a minute apart, differ in such a layout.
			ref := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
			if s := ref.Format(f); s == ref.AddDate(0, 0, 1).Format(f) && s == ref.Add(time.Minute).Format(f) {
				return nil, fmt.Errorf("formats[%d] %q: not a Go layout naming a day or minutes (such as 2006-01-02 15:04:05) nor a known name (RFC3339, RFC3339Nano, ISO8601, UNIX, UNIX_MS, nginx, syslog, ...)", i, f)
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
			if t, ok := parseEpoch(s, l == FormatUNIXMS); ok {
				return t, nil
			}
			continue
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

// Bounds of the times parseEpoch accepts: the years 1 to 9999, those
// RFC 3339 can write (a UNIX_MS value read as UNIX would be in the year
// 57000, and is refused rather than indexed there).
var (
	minEpoch = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxEpoch = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// parseEpoch reads a UNIX time in seconds or, with ms, milliseconds: an
// optional minus sign, digits, optionally a fraction. It is exact to the
// nanosecond (a float64 is not: 1765101600.123 would come out as
// .122999906), and refuses times outside minEpoch..maxEpoch.
func parseEpoch(s string, ms bool) (time.Time, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(whole) > 15 || !epochDigits(whole) || !epochDigits(frac) {
		return time.Time{}, false // more than 15 digits are past the year 9999 in either unit
	}
	n, _ := strconv.ParseInt(whole, 10, 64)
	// The fraction, in nanoseconds of the unit: 9 digits for seconds, 6 for
	// milliseconds; further digits are below a nanosecond.
	digits := 9
	if ms {
		digits = 6
	}
	var fracNanos int64
	for i := range digits {
		fracNanos *= 10
		if i < len(frac) {
			fracNanos += int64(frac[i] - '0')
		}
	}
	var sec, nsec int64
	if ms {
		sec, nsec = n/1000, (n%1000)*1e6+fracNanos
	} else {
		sec, nsec = n, fracNanos
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	t := time.Unix(sec, nsec).UTC()
	if u := t.Unix(); u < minEpoch || u > maxEpoch {
		return time.Time{}, false
	}
	return t, true
}

func epochDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
