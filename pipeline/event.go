package pipeline

import (
	"fmt"
	"strings"
	"time"
)

// Event is one document while a pipeline shapes it: its fields as decoded
// JSON (map[string]any, []any, string, json.Number or a Go number, bool,
// nil), nested by dotted names. Processors change it in place. It is not
// safe for concurrent use.
type Event struct {
	Fields  map[string]any
	dropped bool
}

// NewEvent returns an event holding fields (not copied); nil is an empty
// event.
func NewEvent(fields map[string]any) *Event {
	if fields == nil {
		fields = map[string]any{}
	}
	return &Event{Fields: fields}
}

// Get returns the value at the dotted path, and whether there is one.
func (e *Event) Get(path string) (any, bool) {
	m := e.Fields
	for {
		key, rest, nested := strings.Cut(path, ".")
		v, ok := m[key]
		if !nested {
			return v, ok
		}
		if !ok {
			// A flat key holding dots, as some JSON logs have ("log.level").
			v, ok = m[path]
			return v, ok
		}
		if m, ok = v.(map[string]any); !ok {
			return nil, false
		}
		path = rest
	}
}

// GetString returns the string at path; ok is false when there is none or it
// is not a string.
func (e *Event) GetString(path string) (s string, ok bool) {
	v, ok := e.Get(path)
	if !ok {
		return "", false
	}
	s, ok = v.(string)
	return s, ok
}

// Put sets the value at the dotted path, creating the maps on the way. It
// fails when a field on the way holds something other than a map (putting
// "url.original" when "url" is a string).
func (e *Event) Put(path string, v any) error {
	m, key, err := e.parent(path)
	if err != nil {
		return err
	}
	m[key] = v
	return nil
}

// parent returns the object that holds the last name of the dotted path,
// and that name, creating the objects on the way as Put does.
func (e *Event) parent(path string) (map[string]any, string, error) {
	m, rest := e.Fields, path
	for {
		key, tail, nested := strings.Cut(rest, ".")
		if !nested {
			return m, key, nil
		}
		switch next := m[key].(type) {
		case map[string]any:
			m = next
		case nil: // absent, or null
			child := map[string]any{}
			m[key] = child
			m = child
		default:
			return nil, "", fmt.Errorf("cannot set %s: %s is a %T, not an object", path, path[:len(path)-len(rest)+len(key)], next)
		}
		rest = tail
	}
}

// fieldSetter puts values at dotted paths as Put does, walking to each
// parent object once: a preset puts several fields under one parent
// (http.request.method, http.request.referrer), and each Put hashed every
// name on the way again. The first error sticks and the puts after it do
// nothing. It is meant for a run of puts that replace no object on the way.
type fieldSetter struct {
	e       *Event
	err     error
	n       int
	parents [8]struct {
		path string
		m    map[string]any
	}
}

func (s *fieldSetter) put(path string, v any) {
	if s.err != nil {
		return
	}
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		s.e.Fields[path] = v
		return
	}
	dir := path[:i]
	for j := range s.n {
		if s.parents[j].path == dir {
			s.parents[j].m[path[i+1:]] = v
			return
		}
	}
	m, key, err := s.e.parent(path)
	if err != nil {
		s.err = err
		return
	}
	m[key] = v
	if s.n < len(s.parents) {
		s.parents[s.n].path, s.parents[s.n].m = dir, m
		s.n++
	}
}

// Delete removes the value at the dotted path and returns it, with whether
// there was one. Maps left empty stay.
func (e *Event) Delete(path string) (any, bool) {
	m := e.Fields
	for {
		key, rest, nested := strings.Cut(path, ".")
		if !nested {
			v, ok := m[key]
			delete(m, key)
			return v, ok
		}
		next, ok := m[key].(map[string]any)
		if !ok {
			if v, ok := m[path]; ok { // a flat dotted key
				delete(m, path)
				return v, true
			}
			return nil, false
		}
		m, path = next, rest
	}
}

// Drop marks the event to be dropped: the pipeline stops and the event is
// not indexed.
func (e *Event) Drop() { e.dropped = true }

// Dropped reports whether a processor dropped the event.
func (e *Event) Dropped() bool { return e.dropped }

// SetTimestamp sets @timestamp, the time the event happened, which also
// names its daily index: RFC 3339 in UTC with the precision of t.
func (e *Event) SetTimestamp(t time.Time) {
	e.Fields["@timestamp"] = t.UTC().Format(time.RFC3339Nano)
}

// clone returns a deep copy of fields (maps and slices; other values are
// immutable), so that a failed pipeline can give the event back as it came.
func clone(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return clone(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneValue(x)
		}
		return out
	}
	return v
}
