package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

func init() { register("dissect", newDissect) }

// dissectProc splits a field on the literal text of a pattern, with
// Elasticsearch's dissect syntax, without regular expressions:
//
//	dissect: {field: message, pattern: '%{source.ip} %{?ident} %{user.name} [%{time}] "%{http.request.method} %{url.original} HTTP/%{http.version}" %{status} %{size}', target_prefix: "", append_separator: "", ignore_missing: false}
//
// A pattern is literal text (the delimiters) around keys:
//   - %{name} captures a value into the field name (dotted names nest);
//   - %{} and %{?name} capture a value and drop it;
//   - %{+name} appends its value to the other keys of that name, joined by
//     append_separator, in the pattern's order or, with %{+name/2}, in the
//     order of the numbers (keys without a number first); a plain %{name}
//     of the same name takes part, first;
//   - %{*name} and %{&name} come in pairs: the value of *name is the field
//     name for the value of &name (key=value logs);
//   - -> after a name (%{name->}, %{->}) skips the repeats of the delimiter
//     that follows, such as the spaces that pad a column.
//
// Matching follows Elasticsearch: the text before the first key must start
// the value; each key takes the text up to the first occurrence of the
// delimiter after it; a pattern that ends with a key gives it the rest of
// the value, and one that ends with a delimiter ignores what follows it.
// Values may be empty (two delimiters in a row). Fields go to the event's
// root, or under target_prefix (Filebeat uses "dissect"); they are all
// written only once the whole pattern matched.
//
// The pattern is checked when the pipeline is built: two keys with no
// delimiter between them (%{a}%{b}) cannot be told apart and are refused,
// as are a name given twice without +, a * without its & (or the other way
// round), and a pattern whose keys are all skipped. A value that does not
// match is an error naming the field, the pattern and the delimiter that
// was not found. A missing or null field is an error unless ignore_missing.
type dissectProc struct {
	field         string
	ignoreMissing bool
	pattern       *dissectPattern
}

func newDissect(pc ProcessorConfig) (Processor, error) {
	o := struct {
		Field           string `yaml:"field"`
		Pattern         string `yaml:"pattern"`
		TargetPrefix    string `yaml:"target_prefix"`
		AppendSeparator string `yaml:"append_separator"`
		IgnoreMissing   bool   `yaml:"ignore_missing"`
	}{Field: "message"}
	if err := pc.decode(&o); err != nil {
		return nil, err
	}
	if o.Field == "" {
		return nil, errors.New("field: must not be empty")
	}
	if o.Pattern == "" {
		return nil, errors.New("pattern: required, such as '%{source.ip} %{?ident} %{user.name} [%{time}]'")
	}
	if o.TargetPrefix != "" && !validPath(o.TargetPrefix) {
		return nil, fmt.Errorf("target_prefix: %q is not a field name", o.TargetPrefix)
	}
	dp, err := compileDissect(o.Pattern, o.TargetPrefix, o.AppendSeparator)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", o.Pattern, err)
	}
	return &dissectProc{field: o.Field, ignoreMissing: o.IgnoreMissing, pattern: dp}, nil
}

func (p *dissectProc) Process(e *Event) error {
	s, ok, err := sourceText(e, p.field, p.ignoreMissing)
	if !ok {
		return err
	}
	if err := p.pattern.apply(e, s); err != nil {
		return fmt.Errorf("field %s: %w", p.field, err)
	}
	return nil
}

// dissectPattern is a compiled pattern. It is read-only once compiled.
type dissectPattern struct {
	text   string // as configured, for errors
	prefix string // the literal text before the first key
	keys   []dissectKey
	// What the keys yield, by index into keys.
	plain     []int
	appends   []dissectGroup
	refs      []dissectRef
	targetDot string // target_prefix and a dot, or ""
	separator string // append_separator
}

type dissectKind uint8

const (
	dissectPlain    dissectKind = iota // %{name}
	dissectSkip                        // %{}, %{?name}
	dissectAppend                      // %{+name}, %{+name/n}
	dissectRefName                     // %{*name}
	dissectRefValue                    // %{&name}
)

type dissectKey struct {
	spec  string // between %{ and }, for errors
	name  string
	path  string // where a plain key's value goes: targetDot + name
	kind  dissectKind
	order int  // an append key's place; implicit ones are negative, first
	pad   bool // -> : skip repeats of delim
	delim string
}

type dissectGroup struct {
	path  string
	slots []int // keys, in append order
}

type dissectRef struct{ name, value int }

// compileDissect parses and checks a pattern. Its errors do not repeat the
// pattern (the caller names it).
func compileDissect(pattern, targetPrefix, separator string) (*dissectPattern, error) {
	dp := &dissectPattern{text: pattern, separator: separator}
	if targetPrefix != "" {
		dp.targetDot = targetPrefix + "."
	}
	start := strings.Index(pattern, "%{")
	if start < 0 {
		return nil, errors.New("no %{key} in it")
	}
	dp.prefix = pattern[:start]
	rest := pattern[start:]
	for rest != "" {
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, fmt.Errorf("%.20q…: %%{ is not closed by }", rest)
		}
		k, err := parseDissectKey(rest[2:end])
		if err != nil {
			return nil, err
		}
		rest = rest[end+1:]
		next := strings.Index(rest, "%{")
		if next < 0 {
			next = len(rest)
		}
		k.delim, rest = rest[:next], rest[next:]
		if k.delim == "" && rest != "" {
			return nil, fmt.Errorf("%%{%s} is followed by another key with no text between them, so where one ends cannot be told", k.spec)
		}
		dp.keys = append(dp.keys, k)
	}
	if err := dp.plan(); err != nil {
		return nil, err
	}
	return dp, nil
}

// parseDissectKey reads what is between %{ and }: an optional modifier (+,
// *, & or ?), the name, /n after a + name, and -> at the end.
func parseDissectKey(spec string) (dissectKey, error) {
	k := dissectKey{spec: spec}
	var s string
	s, k.pad = strings.CutSuffix(spec, "->")
	if s != "" {
		switch s[0] {
		case '+':
			k.kind = dissectAppend
		case '*':
			k.kind = dissectRefName
		case '&':
			k.kind = dissectRefValue
		case '?':
			k.kind = dissectSkip
		}
		if k.kind != dissectPlain {
			s = s[1:]
		}
	}
	k.order = -1 // implicit; numbered in plan
	if i := strings.LastIndexByte(s, '/'); i >= 0 && k.kind == dissectAppend {
		n, err := strconv.ParseUint(s[i+1:], 10, 15)
		if err != nil {
			return k, fmt.Errorf("%%{%s}: the append order after / must be a number (0 to 32767)", spec)
		}
		k.order, s = int(n), s[:i]
	}
	if strings.ContainsAny(s, "+*&?/") {
		return k, fmt.Errorf("%%{%s}: a name cannot hold + * & ? or /; one modifier goes before the name (+ * & ?), /n after a +name, -> at the end", spec)
	}
	k.name = s
	switch {
	case s == "" && k.kind == dissectPlain:
		k.kind = dissectSkip // %{} and %{->}
	case s == "" && k.kind != dissectSkip:
		return k, fmt.Errorf("%%{%s}: a name is required after %c", spec, spec[0])
	case s != "" && k.kind != dissectSkip && !validPath(s):
		return k, fmt.Errorf("%%{%s}: %q is not a field name (empty part between dots)", spec, s)
	}
	return k, nil
}

// plan works out what the keys yield: plain fields, append groups (a plain
// key joins the group of its name when there is one) and reference pairs.
func (dp *dissectPattern) plan() error {
	appendNames := map[string]bool{}
	for _, k := range dp.keys {
		if k.kind == dissectAppend {
			appendNames[k.name] = true
		}
	}
	groups := map[string]int{} // name → index in dp.appends
	plainSeen := map[string]bool{}
	type refPair struct{ name, value []int }
	refs := map[string]*refPair{}
	var refOrder []string
	for i := range dp.keys {
		k := &dp.keys[i]
		k.path = dp.targetDot + k.name
		switch k.kind {
		case dissectPlain:
			if !appendNames[k.name] {
				if plainSeen[k.name] {
					return fmt.Errorf("%%{%s} is given twice; append with %%{+%s}", k.name, k.name)
				}
				plainSeen[k.name] = true
				dp.plain = append(dp.plain, i)
				continue
			}
			k.kind = dissectAppend
			fallthrough
		case dissectAppend:
			if k.order < 0 {
				k.order = i - len(dp.keys) // before every numbered key, in pattern order
			}
			g, ok := groups[k.name]
			if !ok {
				g = len(dp.appends)
				groups[k.name] = g
				dp.appends = append(dp.appends, dissectGroup{path: k.path})
			}
			dp.appends[g].slots = append(dp.appends[g].slots, i)
		case dissectRefName, dissectRefValue:
			r := refs[k.name]
			if r == nil {
				r = &refPair{}
				refs[k.name] = r
				refOrder = append(refOrder, k.name)
			}
			if k.kind == dissectRefName {
				r.name = append(r.name, i)
			} else {
				r.value = append(r.value, i)
			}
		}
	}
	for i := range dp.appends {
		slices.SortStableFunc(dp.appends[i].slots, func(a, b int) int { return dp.keys[a].order - dp.keys[b].order })
	}
	for _, name := range refOrder {
		r := refs[name]
		if len(r.name) != 1 || len(r.value) != 1 {
			return fmt.Errorf("reference keys of %q: want one %%{*%s} (the field name) and one %%{&%s} (its value), found %d and %d", name, name, name, len(r.name), len(r.value))
		}
		dp.refs = append(dp.refs, dissectRef{name: r.name[0], value: r.value[0]})
	}
	if len(dp.plain)+len(dp.appends)+len(dp.refs) == 0 {
		return errors.New("every key is skipped, so it yields no field")
	}
	// A field cannot hold a string and, under it, other fields.
	var paths []string
	for _, i := range dp.plain {
		paths = append(paths, dp.keys[i].path)
	}
	for _, a := range dp.appends {
		paths = append(paths, a.path)
	}
	for _, p := range paths {
		for _, q := range paths {
			if strings.HasPrefix(q, p+".") {
				return fmt.Errorf("%%{%s} and %%{%s}: %s cannot be both a value and an object", strings.TrimPrefix(p, dp.targetDot), strings.TrimPrefix(q, dp.targetDot), p)
			}
		}
	}
	return nil
}

// maxStackKeys is how many keys' values match keeps on the stack; a longer
// pattern allocates.
const maxStackKeys = 24

// apply matches s and, when it matches, writes the fields to e.
func (dp *dissectPattern) apply(e *Event, s string) error {
	var buf [maxStackKeys]string
	var vals []string
	if len(dp.keys) <= len(buf) {
		vals = buf[:len(dp.keys)]
	} else {
		vals = make([]string, len(dp.keys))
	}
	if failed := dp.match(s, vals); failed != dissectMatched {
		return dp.noMatch(failed)
	}
	for _, i := range dp.plain {
		if err := e.Put(dp.keys[i].path, vals[i]); err != nil {
			return err
		}
	}
	for _, a := range dp.appends {
		var b strings.Builder
		for j, i := range a.slots {
			if j > 0 {
				b.WriteString(dp.separator)
			}
			b.WriteString(vals[i])
		}
		if err := e.Put(a.path, b.String()); err != nil {
			return err
		}
	}
	for _, r := range dp.refs {
		name := vals[r.name]
		if !validPath(name) {
			return fmt.Errorf("%%{%s} matched %s, which is not a field name", dp.keys[r.name].spec, quoteForError(name))
		}
		if err := e.Put(dp.targetDot+name, vals[r.value]); err != nil {
			return err
		}
	}
	return nil
}

// dissectMatched is what match returns when the whole pattern matched;
// dissectNoPrefix when the text before the first key is not there; else
// the index of the key whose delimiter was not found.
const (
	dissectMatched  = -1
	dissectNoPrefix = -2
)

// match splits s into vals (len(dp.keys)), scanning for each delimiter in
// turn. Values are substrings of s.
func (dp *dissectPattern) match(s string, vals []string) int {
	rest, ok := strings.CutPrefix(s, dp.prefix)
	if !ok {
		return dissectNoPrefix
	}
	for i := range dp.keys {
		k := &dp.keys[i]
		if k.delim == "" { // the last key takes the rest
			vals[i], rest = rest, ""
			break
		}
		j := strings.Index(rest, k.delim)
		if j < 0 {
			return i
		}
		vals[i], rest = rest[:j], rest[j+len(k.delim):]
		if k.pad {
			for strings.HasPrefix(rest, k.delim) {
				rest = rest[len(k.delim):]
			}
		}
	}
	return dissectMatched
}

func (dp *dissectPattern) noMatch(failed int) error {
	if failed == dissectNoPrefix {
		return fmt.Errorf("pattern %q does not match: the value does not start with %q", dp.text, dp.prefix)
	}
	k := dp.keys[failed]
	return fmt.Errorf("pattern %q does not match: no %q after %%{%s}", dp.text, k.delim, k.spec)
}

// validPath reports whether path is a usable dotted field name: not empty,
// and no empty part between dots.
func validPath(path string) bool {
	if path == "" {
		return false
	}
	for part := range strings.SplitSeq(path, ".") {
		if part == "" {
			return false
		}
	}
	return true
}
