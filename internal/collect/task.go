package collect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/kafkaclient"
)

// Task defaults and limits.
const (
	defaultMaxLineBytes     = 1 << 20  // Task.MaxLineBytes when unset
	maxLineBytesLimit       = 64 << 20 // largest accepted Task.MaxLineBytes
	defaultMultilineLines   = 500      // Multiline.MaxLines when unset
	defaultMultilineTimeout = config.Duration(5 * time.Second)
)

// Task is one collect task: the files matching Path are tailed and every
// event is produced to Topic. Tasks come from etcd (see ParseTasks) or from
// the config file's tasks list (see ValidateTasks).
type Task struct {
	Path            string            `json:"path" yaml:"path"`                                   // absolute path or glob
	Topic           string            `json:"topic" yaml:"topic"`                                 // Kafka topic
	Exclude         []string          `json:"exclude,omitempty" yaml:"exclude"`                   // globs matched against the full path AND the base name
	StartPosition   string            `json:"start_position,omitempty" yaml:"start_position"`     // "end" (default) | "beginning": where existing files are read from on the task's first run on this host
	Fields          map[string]string `json:"fields,omitempty" yaml:"fields"`                     // added to every event
	Multiline       *Multiline        `json:"multiline,omitempty" yaml:"multiline"`               // nil: one event per line
	MaxLineBytes    int               `json:"max_line_bytes,omitempty" yaml:"max_line_bytes"`     // default 1 MiB, at most 64 MiB; caps a line and a joined event
	Format          string            `json:"format,omitempty" yaml:"format"`                     // "json" (default) | "raw"
	IncludeLines    []string          `json:"include_lines,omitempty" yaml:"include_lines"`       // RE2 regexps: when set, only events matching one of them are shipped
	ExcludeLines    []string          `json:"exclude_lines,omitempty" yaml:"exclude_lines"`       // RE2 regexps: events matching one of them are dropped (after include_lines)
	ContainerFormat string            `json:"container_format,omitempty" yaml:"container_format"` // "cri" | "docker" | "" (off): the agent joins the container runtime's partial lines, before multiline and the filters

	include, exclude []*regexp.Regexp // compiled IncludeLines and ExcludeLines, set by validation
}

// LineFilters returns the compiled IncludeLines and ExcludeLines, with
// Filebeat's semantics: when include is not empty, only events matching at
// least one of its regexps are kept; then events matching any regexp of
// exclude are dropped. The regexps match the text of an event after
// multiline joining. Both are nil until the task has been validated by
// ParseTasks or ValidateTasks, and nil when the task has no filter. The
// Regexps are safe for concurrent use.
func (t Task) LineFilters() (include, exclude []*regexp.Regexp) { return t.include, t.exclude }

// Multiline joins several lines into one event, with Filebeat's semantics: a
// line "matches" when Pattern matches it, inverted by Negate. With Match
// "after", matching lines are appended to the previous non-matching line
// (stack traces: `^[[:space:]]`; or `^\d{4}-` with Negate). With Match
// "before", matching lines are prepended to the next non-matching line
// (continuations such as `\\$`).
type Multiline struct {
	Pattern  string          `json:"pattern" yaml:"pattern"`
	Negate   bool            `json:"negate,omitempty" yaml:"negate"`
	Match    string          `json:"match" yaml:"match"`                   // "after" | "before"
	MaxLines int             `json:"max_lines,omitempty" yaml:"max_lines"` // default 500; later lines are dropped, the event is flagged truncated
	Timeout  config.Duration `json:"timeout,omitempty" yaml:"timeout"`     // default 5s: a pending event is flushed after this much quiet

	re *regexp.Regexp // compiled Pattern, set by validation
}

// Regexp returns the compiled Pattern. It is nil until the Multiline has been
// validated by ParseTasks or ValidateTasks. The Regexp is safe for concurrent
// use.
func (m *Multiline) Regexp() *regexp.Regexp { return m.re }

// ParseTasks parses a collect config: a JSON array of tasks, as stored in etcd.
// Decoding is strict (an unknown field is an error naming it); defaults are
// applied and every task is validated as by ValidateTasks. An empty array is
// valid; null is not.
func ParseTasks(data []byte) ([]Task, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, jsonDocumentError(data, err)
	}
	if raws == nil {
		return nil, errors.New("tasks must be a JSON array, got null")
	}
	tasks := make([]Task, len(raws))
	for i, raw := range raws {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&tasks[i]); err != nil {
			return nil, taskError(i, tasks[i].Path, jsonFieldError(err, raw))
		}
	}
	return ValidateTasks(tasks)
}

// ValidateTasks applies defaults to a copy of tasks, validates it and returns
// it; tasks itself is not modified. Errors name each bad task by its index in
// the list and its path. Paths must be unique (compared after
// filepath.Clean).
func ValidateTasks(tasks []Task) ([]Task, error) {
	out := make([]Task, len(tasks))
	seen := make(map[string]int, len(tasks))
	var errs []error
	for i, t := range tasks {
		t = t.withDefaults()
		if err := t.validate(); err != nil {
			errs = append(errs, taskError(i, t.Path, err))
			continue
		}
		key := filepath.Clean(t.Path)
		if j, dup := seen[key]; dup {
			errs = append(errs, taskError(i, t.Path, fmt.Errorf("path: duplicate of task %d", j)))
			continue
		}
		seen[key] = i
		out[i] = t
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Equal reports whether t and o describe the same task once defaults are
// applied: when it is false, a running task must be restarted to apply o.
// Nil and empty Exclude, Fields, IncludeLines or ExcludeLines are equal.
func (t Task) Equal(o Task) bool {
	t, o = t.withDefaults(), o.withDefaults()
	return t.Path == o.Path &&
		t.Topic == o.Topic &&
		slices.Equal(t.Exclude, o.Exclude) &&
		t.StartPosition == o.StartPosition &&
		maps.Equal(t.Fields, o.Fields) &&
		t.MaxLineBytes == o.MaxLineBytes &&
		t.Format == o.Format &&
		slices.Equal(t.IncludeLines, o.IncludeLines) &&
		slices.Equal(t.ExcludeLines, o.ExcludeLines) &&
		t.ContainerFormat == o.ContainerFormat &&
		t.Multiline.equal(o.Multiline)
}

func (m *Multiline) equal(o *Multiline) bool {
	if m == nil || o == nil {
		return m == o
	}
	return m.Pattern == o.Pattern && m.Negate == o.Negate && m.Match == o.Match &&
		m.MaxLines == o.MaxLines && m.Timeout == o.Timeout
}

// withDefaults returns a deep copy of t with defaults applied.
func (t Task) withDefaults() Task {
	t.Exclude = slices.Clone(t.Exclude)
	t.Fields = maps.Clone(t.Fields)
	t.IncludeLines = slices.Clone(t.IncludeLines)
	t.ExcludeLines = slices.Clone(t.ExcludeLines)
	if t.StartPosition == "" {
		t.StartPosition = "end"
	}
	if t.Format == "" {
		t.Format = "json"
	}
	if t.MaxLineBytes == 0 {
		t.MaxLineBytes = defaultMaxLineBytes
	}
	if t.Multiline != nil {
		m := *t.Multiline
		if m.MaxLines == 0 {
			m.MaxLines = defaultMultilineLines
		}
		if m.Timeout == 0 {
			m.Timeout = defaultMultilineTimeout
		}
		t.Multiline = &m
	}
	return t
}

// validate checks a task with defaults applied and compiles its multiline
// pattern and line filters. It returns the first problem found.
func (t *Task) validate() error {
	switch {
	case t.Path == "":
		return errors.New("path: must not be empty")
	case !filepath.IsAbs(t.Path):
		return errors.New("path: must be absolute")
	}
	if err := checkGlob(t.Path); err != nil {
		return fmt.Errorf("path: %w", err)
	}
	switch {
	case t.Topic == "":
		return errors.New("topic: must not be empty")
	case t.Topic == "." || t.Topic == "..":
		return fmt.Errorf("topic %q: must not be \".\" or \"..\"", t.Topic)
	case !kafkaclient.ValidTopic(t.Topic):
		return fmt.Errorf("topic %q: must match [a-zA-Z0-9._-]{1,249}", t.Topic)
	}
	for i, g := range t.Exclude {
		if g == "" {
			return fmt.Errorf("exclude[%d]: must not be empty", i)
		}
		if err := checkGlob(g); err != nil {
			return fmt.Errorf("exclude[%d] %q: %w", i, g, err)
		}
	}
	if t.StartPosition != "end" && t.StartPosition != "beginning" {
		return fmt.Errorf("start_position %q: must be \"end\" or \"beginning\"", t.StartPosition)
	}
	if t.Format != "json" && t.Format != "raw" {
		return fmt.Errorf("format %q: must be \"json\" or \"raw\"", t.Format)
	}
	if t.MaxLineBytes < 0 || t.MaxLineBytes > maxLineBytesLimit {
		return fmt.Errorf("max_line_bytes %d: must be between 1 and %d (64 MiB), or 0 for the default", t.MaxLineBytes, maxLineBytesLimit)
	}
	if t.ContainerFormat != "" && t.ContainerFormat != "cri" && t.ContainerFormat != "docker" {
		return fmt.Errorf("container_format %q: must be \"cri\" or \"docker\", or empty for none", t.ContainerFormat)
	}
	if _, ok := t.Fields[""]; ok {
		return errors.New("fields: key must not be empty")
	}
	if t.Multiline != nil {
		if err := t.Multiline.validate(); err != nil {
			return fmt.Errorf("multiline.%w", err)
		}
	}
	var err error
	if t.include, err = compileLines("include_lines", t.IncludeLines); err != nil {
		return err
	}
	if t.exclude, err = compileLines("exclude_lines", t.ExcludeLines); err != nil {
		return err
	}
	return nil
}

// compileLines compiles the regexps of the line filter field, or returns nil
// for an empty list. An empty regexp is an error: it matches every event, so
// it would make include_lines keep everything or exclude_lines drop
// everything, more likely a slip (a null in JSON) than meant.
func compileLines(field string, patterns []string) ([]*regexp.Regexp, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("%s[%d]: must not be empty", field, i)
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("%s[%d] %q: %w", field, i, p, err)
		}
		res[i] = re
	}
	return res, nil
}

// validate checks m, with defaults applied, and compiles its pattern.
func (m *Multiline) validate() error {
	if m.Pattern == "" {
		return errors.New("pattern: must not be empty")
	}
	re, err := regexp.Compile(m.Pattern)
	if err != nil {
		return fmt.Errorf("pattern %q: %w", m.Pattern, err)
	}
	switch {
	case m.Match != "after" && m.Match != "before":
		return fmt.Errorf("match %q: must be \"after\" or \"before\"", m.Match)
	case m.MaxLines < 0:
		return fmt.Errorf("max_lines %d: must be >= 0", m.MaxLines)
	case m.Timeout < 0:
		return fmt.Errorf("timeout %s: must be >= 0", m.Timeout)
	}
	m.re = re
	return nil
}

// checkGlob checks the syntax of a filepath.Match pattern. filepath.Match
// itself stops checking at the first chunk that fails to match, so a pattern
// such as "/var/*/x[.log" would only fail later, on some file name;
// path.Match checks the whole pattern, with the same syntax on Unix.
func checkGlob(pattern string) error {
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("invalid glob: %w", err)
	}
	return nil
}

func taskError(i int, path string, err error) error {
	if path == "" {
		return fmt.Errorf("task %d: %w", i, err)
	}
	return fmt.Errorf("task %d (path %q): %w", i, path, err)
}

// jsonDocumentError explains why data is not a JSON array.
func jsonDocumentError(data []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := lineColumn(data, syn.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d (offset %d): %w", line, col, syn.Offset, err)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Errorf("tasks must be a JSON array, got %s", typ.Value)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// lineColumn returns the 1-based line and column of the byte before offset,
// the byte a json.SyntaxError complains about.
func lineColumn(data []byte, offset int64) (line, col int) {
	p := int(min(max(offset-1, 0), int64(len(data))))
	before := data[:p]
	return bytes.Count(before, []byte("\n")) + 1, p - bytes.LastIndexByte(before, '\n')
}

// badDurationField returns the dotted path of the first field of type t (a
// struct, in raw) that holds a config.Duration raw does not decode into, or "".
func badDurationField(raw []byte, t reflect.Type, prefix string) string {
	if t == durationType {
		if json.Unmarshal(raw, new(config.Duration)) != nil {
			return prefix
		}
		return ""
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var fields map[string]json.RawMessage
	if t.Kind() != reflect.Struct || json.Unmarshal(raw, &fields) != nil {
		return ""
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		v, ok := fields[name]
		if name == "" || name == "-" || !ok {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		if p := badDurationField(v, f.Type, path); p != "" {
			return p
		}
	}
	return ""
}

// durationType is the type a *json.UnmarshalTypeError names for a bad
// config.Duration.
var durationType = reflect.TypeFor[config.Duration]()

// jsonFieldError rewrites a type error of one task (raw) with the path of
// the field, for example `multiline.timeout: cannot use number 5 as a
// duration string such as "10s"`.
func jsonFieldError(err error, raw []byte) error {
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &typ) {
		return err
	}
	if typ.Field == "" && typ.Type == durationType {
		// Go 1.27's encoding/json leaves Field empty for an error of an
		// UnmarshalJSON method: find the field again.
		typ.Field = badDurationField(raw, reflect.TypeFor[Task](), "")
	}
	want := typ.Type.String()
	switch typ.Type {
	case durationType:
		want = `a duration string such as "10s"`
	case reflect.TypeFor[Task]():
		want = "a task object"
	}
	if typ.Field == "" {
		return fmt.Errorf("cannot use %s as %s", typ.Value, want)
	}
	return fmt.Errorf("%s: cannot use %s as %s", typ.Field, typ.Value, want)
}
