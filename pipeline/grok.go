package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	grok "github.com/elastic/go-grok"
	grokpatterns "github.com/elastic/go-grok/patterns"
)

func init() { register("grok", newGrok) }

// grokProc parses a field with grok patterns, through Elastic's go-grok and
// its pattern library (the Logstash patterns rewritten for Go's RE2:
// COMBINEDAPACHELOG, SYSLOGLINE, IPORHOST, NUMBER, TIMESTAMP_ISO8601, ...):
//
//	grok: {field: message, patterns: ['%{IP:source.ip} %{WORD:http.request.method} %{NUMBER:http.response.body.bytes:int}'], pattern_definitions: {}, ignore_missing: false}
//
// patterns are tried in order and the first that matches wins. A
// reference is %{NAME}, %{NAME:field} or %{NAME:field:type}; only the named
// ones are captured. field may be dotted (source.ip nests); type is int or
// long (an int64), float or double (a float64), bool or boolean, or
// string. pattern_definitions add patterns, or replace the library's, for
// these patterns only.
//
// A pattern matches anywhere in the value unless it is anchored with ^ and
// $, which pays where it describes the whole line: Go's regexp (RE2, no
// backtracking) then starts from the first byte only, where unanchored it
// starts a match at every byte until one ends (BenchmarkGrok: several times
// the CPU for %{COMBINEDAPACHELOG}, itself two orders of magnitude above
// dissect on the same line: prefer dissect, or a preset, for a fixed format).
//
// Everything is checked when the pipeline is built, since go-grok would
// otherwise find some mistakes only on the first event, or never: unknown
// pattern names, cycles between definitions, unknown types, and a %{...}
// that is not a reference go-grok reads (such as %{HTTPDATE:@timestamp}:
// its field names are letters, digits, _ and dots only) and would be
// matched as literal text. The patterns' regular expressions are compiled
// then, once.
//
// A capture that is empty is not written. A typed value that does not
// convert (an int beyond int64) is an error naming the field. No pattern
// matching is an error naming the field; a missing or null field is an
// error unless ignore_missing.
type grokProc struct {
	field         string
	ignoreMissing bool
	patterns      []grokPattern
}

// grokPattern is one compiled pattern. go-grok's Grok is read-only once
// compiled (a *regexp.Regexp and maps), so Process may share it.
type grokPattern struct {
	g     *grok.Grok
	text  string
	types map[string]grokType // by field
	// emptyMatch: the pattern matches the empty string, so a match may
	// capture nothing (see grokPattern.parse).
	emptyMatch bool
}

type grokType uint8

const (
	grokString grokType = iota
	grokInt
	grokFloat
	grokBool
)

var grokTypes = map[string]grokType{
	"string": grokString, "int": grokInt, "long": grokInt,
	"float": grokFloat, "double": grokFloat, "bool": grokBool, "boolean": grokBool,
}

// grokMatchGroup names a group around each whole pattern, so that a match
// shows in go-grok's result even when every field capture is empty (go-grok
// returns the same empty map for no match).
const grokMatchGroup = "logcollect__match"

// grokReference is go-grok's syntax of a reference: %{NAME}, %{NAME:field}
// or %{NAME:field:type}.
var grokReference = regexp.MustCompile(`%{(\w+)(?::([\w+.]+)(?::(\w+))?)?}`)

var grokDefinitionName = regexp.MustCompile(`^\w+$`)

// maxGrokExpansion bounds the size of a pattern once its references are
// expanded: definitions that refer to others twice double at each level,
// and go-grok expands them as text before it compiles them.
const maxGrokExpansion = 1 << 20

// grokLibrary is go-grok's pattern library but its default set (which
// go-grok looks up last by itself): the sets grok.NewComplete loads.
var grokLibrary = sync.OnceValue(func() map[string]string {
	lib := map[string]string{}
	for _, set := range []map[string]string{
		grokpatterns.AWS, grokpatterns.Bind9, grokpatterns.Bro, grokpatterns.Exim,
		grokpatterns.HAProxy, grokpatterns.Httpd, grokpatterns.Firewalls, grokpatterns.Java,
		grokpatterns.Junos, grokpatterns.Maven, grokpatterns.MCollective, grokpatterns.MongoDB,
		grokpatterns.PostgreSQL, grokpatterns.Rails, grokpatterns.Redis, grokpatterns.Ruby,
		grokpatterns.Squid, grokpatterns.Syslog,
	} {
		maps.Copy(lib, set)
	}
	return lib
})

func newGrok(pc ProcessorConfig) (Processor, error) {
	o := struct {
		Field              string            `yaml:"field"`
		Patterns           []string          `yaml:"patterns"`
		PatternDefinitions map[string]string `yaml:"pattern_definitions"`
		IgnoreMissing      bool              `yaml:"ignore_missing"`
	}{Field: "message"}
	if err := pc.decode(&o); err != nil {
		return nil, err
	}
	if o.Field == "" {
		return nil, errors.New("field: must not be empty")
	}
	if len(o.Patterns) == 0 {
		return nil, errors.New("patterns: at least one is required, such as '%{COMBINEDAPACHELOG}'")
	}
	for _, name := range slices.Sorted(maps.Keys(o.PatternDefinitions)) {
		if !grokDefinitionName.MatchString(name) {
			return nil, fmt.Errorf("pattern_definitions: %q: a name is letters, digits and _", name)
		}
		if o.PatternDefinitions[name] == "" {
			return nil, fmt.Errorf("pattern_definitions: %s: empty", name)
		}
	}
	p := &grokProc{field: o.Field, ignoreMissing: o.IgnoreMissing}
	for i, text := range o.Patterns {
		gp, err := compileGrok(text, o.PatternDefinitions)
		if err != nil {
			return nil, fmt.Errorf("patterns[%d] %q: %w", i, text, err)
		}
		p.patterns = append(p.patterns, gp)
	}
	return p, nil
}

func compileGrok(text string, custom map[string]string) (grokPattern, error) {
	if text == "" {
		return grokPattern{}, errors.New("empty")
	}
	w := grokWalk{custom: custom, types: map[string]grokType{}, sizes: map[string]int{}, open: map[string]bool{}}
	if _, err := w.expand("", text); err != nil {
		return grokPattern{}, err
	}
	g, err := grok.NewWithPatterns(grokLibrary(), custom)
	if err != nil {
		return grokPattern{}, err
	}
	if err := g.Compile("(?P<"+grokMatchGroup+">"+text+")", true); err != nil {
		return grokPattern{}, err
	}
	return grokPattern{g: g, text: text, types: w.types, emptyMatch: g.MatchString("")}, nil
}

// grokWalk checks a pattern as go-grok will expand it, and collects the
// types of its fields.
type grokWalk struct {
	custom map[string]string
	types  map[string]grokType
	sizes  map[string]int  // expanded size of the definitions seen
	open   map[string]bool // the definitions being expanded: a cycle
}

// expand returns the size of text expanded; in names the definition it is
// (empty for the pattern itself).
func (w *grokWalk) expand(in, text string) (int, error) {
	where := ""
	if in != "" {
		where = "in the definition of " + in + ": "
	}
	refs := grokReference.FindAllStringSubmatchIndex(text, -1)
	// Text go-grok would leave as it is, and match literally.
	if rest := grokReference.ReplaceAllString(text, ""); strings.Contains(rest, "%{") {
		bad, _, _ := strings.Cut(rest[strings.Index(rest, "%{"):], "}")
		return 0, fmt.Errorf("%s%s}: not a reference go-grok reads: %%{NAME}, %%{NAME:field} or %%{NAME:field:type}, where field is letters, digits, _ and dots", where, bad)
	}
	size := len(text)
	for _, m := range refs {
		name := text[m[2]:m[3]]
		var field, typ string
		if m[4] >= 0 {
			field = text[m[4]:m[5]]
		}
		if m[6] >= 0 {
			typ = text[m[6]:m[7]]
		}
		if typ != "" {
			t, ok := grokTypes[typ]
			if !ok {
				return 0, fmt.Errorf("%s%s: type %q: want int, long, float, double, bool, boolean or string", where, text[m[0]:m[1]], typ)
			}
			if _, seen := w.types[field]; !seen { // the outermost wins
				w.types[field] = t
			}
		}
		def, ok := w.custom[name]
		if !ok {
			def, ok = grokLibrary()[name]
		}
		if !ok {
			def, ok = grokpatterns.Default[name]
		}
		if !ok {
			return 0, fmt.Errorf("%s%s: no pattern named %s (in the library or pattern_definitions)", where, text[m[0]:m[1]], name)
		}
		if w.open[name] {
			return 0, fmt.Errorf("%sthe definition of %s refers to itself, through %s", where, name, text[m[0]:m[1]])
		}
		sub, seen := w.sizes[name]
		if !seen {
			w.open[name] = true
			var err error
			if sub, err = w.expand(name, def); err != nil {
				return 0, err
			}
			w.open[name] = false
			w.sizes[name] = sub
		}
		size += sub + len(field) + len("(?P<>)") - (m[1] - m[0])
		if size > maxGrokExpansion {
			return 0, fmt.Errorf("%sexpands to more than %d bytes", where, maxGrokExpansion)
		}
	}
	return size, nil
}

func (p *grokProc) Process(e *Event) error {
	s, ok, err := sourceText(e, p.field, p.ignoreMissing)
	if !ok {
		return err
	}
	for i := range p.patterns {
		gp := &p.patterns[i]
		captures, matched := gp.parse(s)
		if !matched {
			continue
		}
		if err := gp.write(e, captures); err != nil {
			return fmt.Errorf("field %s: %w", p.field, err)
		}
		return nil
	}
	if len(p.patterns) == 1 {
		return fmt.Errorf("field %s: pattern %q does not match", p.field, p.patterns[0].text)
	}
	return fmt.Errorf("field %s: none of the %d patterns matches", p.field, len(p.patterns))
}

// parse returns the non-empty captures of s, and whether the pattern
// matched. go-grok gives the same empty map for no match and for a match
// that captured nothing; grokMatchGroup tells them apart unless the whole
// match is empty, which only a pattern that matches "" can do (or one whose
// only text is \b, ^ or $ at a place other than the empty string's: such a
// match, which has no field to give, counts as none).
func (gp *grokPattern) parse(s string) (map[string]string, bool) {
	captures, _ := gp.g.ParseString(s) // its error is that of a type conversion; ParseString converts none
	if _, ok := captures[grokMatchGroup]; ok {
		delete(captures, grokMatchGroup)
		return captures, true
	}
	return captures, gp.emptyMatch && gp.g.MatchString(s)
}

// write puts the captures into e, typed, in the order of their names so
// that two patterns' conflicts (a and a.b) fail the same way every time.
func (gp *grokPattern) write(e *Event, captures map[string]string) error {
	for _, field := range slices.Sorted(maps.Keys(captures)) {
		raw := captures[field]
		var v any = raw
		switch gp.types[field] {
		case grokInt:
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return fmt.Errorf("%s: %s is not an integer", field, quoteForError(raw))
			}
			v = n
		case grokFloat:
			f, err := strconv.ParseFloat(raw, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return fmt.Errorf("%s: %s is not a float", field, quoteForError(raw))
			}
			v = f
		case grokBool:
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return fmt.Errorf("%s: %s is not a boolean", field, quoteForError(raw))
			}
			v = b
		}
		if err := e.Put(field, v); err != nil {
			return err
		}
	}
	return nil
}
