package transfer

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// indexNamer turns a topic and a timestamp into an index name, following
// an index template such as "{topic}-{yyyy.MM.dd}": {topic} is the topic
// (lower-cased: index names must be) and any other {…} is a date in Joda
// style (yyyy, yy, MM, dd, HH), taken from the document's @timestamp in UTC.
type indexNamer struct {
	parts []indexPart
}

type indexPart struct {
	literal string
	topic   bool
	layout  string // Go time layout; empty for literals and {topic}
}

var jodaToGo = strings.NewReplacer("yyyy", "2006", "yy", "06", "MM", "01", "dd", "02", "HH", "15")

func parseIndexTemplate(s string) (*indexNamer, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	n := &indexNamer{}
	hasTopic := false
	for len(s) > 0 {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			i = len(s)
		}
		if lit := s[:i]; lit != "" {
			if lit != strings.ToLower(lit) || strings.ContainsAny(lit, `\/*?"<>| ,#:}`) {
				return nil, fmt.Errorf("%q: index names are lower case, without \\ / * ? \" < > | space , # : }", lit)
			}
			n.parts = append(n.parts, indexPart{literal: lit})
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
			n.parts = append(n.parts, indexPart{topic: true})
			continue
		}
		layout := jodaToGo.Replace(name)
		if layout == "" || strings.ContainsFunc(layout, unicode.IsLetter) || strings.ContainsAny(layout, `{\/*?"<>| ,#:`) {
			return nil, fmt.Errorf("unknown placeholder {%s}: want {topic} or a date such as {yyyy.MM.dd} (yyyy, yy, MM, dd, HH)", name)
		}
		n.parts = append(n.parts, indexPart{layout: layout})
	}
	if !hasTopic {
		return nil, errors.New("must contain {topic}")
	}
	return n, nil
}

// name returns the index for a document of topic with timestamp ts.
func (n *indexNamer) name(topic string, ts time.Time) string {
	var buf [128]byte
	b := buf[:0]
	ts = ts.UTC()
	for _, p := range n.parts {
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
