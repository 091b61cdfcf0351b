package esindex

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Template turns a topic and a timestamp into an index name, following a
// pattern such as "{topic}-{yyyy.MM.dd}": {topic} is the topic (lower-cased:
// index names must be) and any other {…} is a date in Joda style (yyyy, yy,
// MM, dd, HH), taken from the document's @timestamp in UTC. Safe for
// concurrent use.
type Template struct {
	src   string
	parts []part
	match *regexp.Regexp // a name it makes: the topic, then each date part
	unit  unit           // finest date field; unitNone without a date
	// contiguous is true when the date fields run from the year down to the
	// finest one without a gap (yyyy.MM.dd, not yyyy.dd).
	contiguous bool
}

type part struct {
	literal string
	topic   bool
	layout  string // Go time layout; empty for literals and {topic}
}

// unit is the period a date field names.
type unit int

const (
	unitNone unit = iota
	unitYear
	unitMonth
	unitDay
	unitHour
)

var jodaToGo = strings.NewReplacer("yyyy", "2006", "yy", "06", "MM", "01", "dd", "02", "HH", "15")

// jodaToRegexp turns the Joda fields into digits; the other characters of a
// date placeholder are punctuation, quoted by Parse.
var jodaFields = regexp.MustCompile(`yyyy|yy|MM|dd|HH`)

// topicRE is a lower-cased Kafka topic that can start an index name: not a
// hidden or system index (".…"), nor one Elasticsearch refuses ("_…", "-…").
const topicRE = `([a-z0-9][a-z0-9._-]*)`

// Parse checks a pattern (logtransfer's `index` setting) and returns its
// Template. The error says what is wrong, without the pattern itself.
func Parse(s string) (*Template, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	t := &Template{src: s}
	hasTopic := false
	var re strings.Builder
	re.WriteString("^")
	seen := map[unit]bool{}
	for len(s) > 0 {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			i = len(s)
		}
		if lit := s[:i]; lit != "" {
			if lit != strings.ToLower(lit) || strings.ContainsAny(lit, `\/*?"<>| ,#:}`) {
				return nil, fmt.Errorf("%q: index names are lower case, without \\ / * ? \" < > | space , # : }", lit)
			}
			t.parts = append(t.parts, part{literal: lit})
			re.WriteString(regexp.QuoteMeta(lit))
		}
		if i == len(s) {
			break
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, errors.New("unterminated {")
		}
		name := s[i+1 : i+end]
		s = s[i+end+1:]
		if name == "topic" {
			hasTopic = true
			t.parts = append(t.parts, part{topic: true})
			re.WriteString(topicRE)
			continue
		}
		layout := jodaToGo.Replace(name)
		if layout == "" || strings.ContainsFunc(layout, unicode.IsLetter) || strings.ContainsAny(layout, `{\/*?"<>| ,#:`) {
			return nil, fmt.Errorf("unknown placeholder {%s}: want {topic} or a date such as {yyyy.MM.dd} (yyyy, yy, MM, dd, HH)", name)
		}
		t.parts = append(t.parts, part{layout: layout})
		re.WriteString("(")
		last := 0
		for _, loc := range jodaFields.FindAllStringIndex(name, -1) {
			re.WriteString(regexp.QuoteMeta(name[last:loc[0]]))
			field := name[loc[0]:loc[1]]
			if field == "yyyy" {
				re.WriteString(`\d{4}`)
			} else {
				re.WriteString(`\d{2}`)
			}
			u := map[string]unit{"yyyy": unitYear, "yy": unitYear, "MM": unitMonth, "dd": unitDay, "HH": unitHour}[field]
			seen[u] = true
			t.unit = max(t.unit, u)
			last = loc[1]
		}
		re.WriteString(regexp.QuoteMeta(name[last:]))
		re.WriteString(")")
	}
	if !hasTopic {
		return nil, errors.New("must contain {topic}")
	}
	re.WriteString("$")
	t.match = regexp.MustCompile(re.String())
	t.contiguous = t.unit != unitNone
	for u := unitYear; u <= t.unit; u++ {
		t.contiguous = t.contiguous && seen[u]
	}
	return t, nil
}

// String is the pattern Parse read.
func (t *Template) String() string { return t.src }

// Name returns the index for a document of topic with timestamp ts.
func (t *Template) Name(topic string, ts time.Time) string {
	var buf [128]byte
	b := buf[:0]
	ts = ts.UTC()
	for _, p := range t.parts {
		switch {
		case p.topic:
			b = append(b, strings.ToLower(topic)...)
		case p.layout != "":
			b = ts.AppendFormat(b, p.layout)
		default:
			b = append(b, p.literal...)
		}
	}
	return string(b)
}

// Wildcard is the pattern with each placeholder replaced by *: every index
// the template can make matches it (and others may too: see Match).
func (t *Template) Wildcard() string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.literal != "" {
			b.WriteString(p.literal)
		} else if !strings.HasSuffix(b.String(), "*") {
			b.WriteString("*")
		}
	}
	return b.String()
}

// CheckDated reports why indices of this template cannot be aged: they
// have no date ({topic} alone: one index forever), or their date fields
// skip one (yyyy.dd), so that a name does not say which period it holds.
func (t *Template) CheckDated() error {
	switch {
	case t.unit == unitNone:
		return errors.New("has no date placeholder such as {yyyy.MM.dd}: its indices are never complete, so none can be aged out")
	case !t.contiguous:
		return errors.New("its date does not name one period (want the year, then the month, day, hour down to the finest field: {yyyy.MM.dd})")
	}
	return nil
}

// Index is an index a Template made: its topic (lower-cased) and the period
// its documents' @timestamps fall in, [Start, End).
type Index struct {
	Name  string    `json:"index"`
	Topic string    `json:"topic"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Match reads name back: ok is false unless the template makes exactly this
// name for some topic and time, with a date (a template without one matches
// nothing: its indices have no age), whose fields run from the year down
// (see CheckDated).
func (t *Template) Match(name string) (Index, bool) {
	if t.CheckDated() != nil {
		return Index{}, false
	}
	m := t.match.FindStringSubmatch(name)
	if m == nil {
		return Index{}, false
	}
	var topic string
	var layouts, values []string
	g := 1
	for _, p := range t.parts {
		switch {
		case p.topic:
			topic = m[g]
			g++
		case p.layout != "":
			layouts, values = append(layouts, p.layout), append(values, m[g])
			g++
		}
	}
	// "|" is no layout element and no digit: it keeps the fields apart.
	start, err := time.Parse(strings.Join(layouts, "|"), strings.Join(values, "|"))
	if err != nil || t.Name(topic, start) != name {
		return Index{}, false
	}
	return Index{Name: name, Topic: topic, Start: start, End: t.periodEnd(start)}, true
}

func (t *Template) periodEnd(start time.Time) time.Time {
	switch t.unit {
	case unitYear:
		return start.AddDate(1, 0, 0)
	case unitMonth:
		return start.AddDate(0, 1, 0)
	case unitDay:
		return start.AddDate(0, 0, 1)
	default:
		return start.Add(time.Hour)
	}
}

// OlderThan reports whether every document the index can hold (by its
// name) has a @timestamp older than maxAge at now: its period ended at
// least maxAge ago. With maxAge 30 days, the daily index of 1 March is old
// from 1 April 00:00 UTC.
func (i Index) OlderThan(maxAge time.Duration, now time.Time) bool {
	return !i.End.After(now.Add(-maxAge))
}
