package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// The processors that reshape an event without parsing: set, rename, remove
// and drop.

func init() {
	register("set", newSet)
	register("rename", newRename)
	register("remove", newRemove)
	register("drop", newDrop)
}

// setProc sets fields to constant values: set: {fields: {event.dataset: nginx.access}}.
type setProc struct {
	paths  []string // sorted, for a stable order
	values map[string]any
	// override: a field that exists is replaced (default true).
	override bool
}

func newSet(pc ProcessorConfig) (Processor, error) {
	var o struct {
		Fields   map[string]any `yaml:"fields"`
		Override *bool          `yaml:"override"`
	}
	if err := pc.decode(&o); err != nil {
		return nil, err
	}
	if len(o.Fields) == 0 {
		return nil, errors.New("fields: at least one field is required")
	}
	p := &setProc{values: o.Fields, override: o.Override == nil || *o.Override}
	p.paths = slices.Sorted(maps.Keys(o.Fields))
	if slices.Contains(p.paths, "") {
		return nil, errors.New("fields: a field name is empty")
	}
	return p, nil
}

func (p *setProc) Process(e *Event) error {
	for _, path := range p.paths {
		if _, exists := e.Get(path); exists && !p.override {
			continue
		}
		if err := e.Put(path, cloneValue(p.values[path])); err != nil {
			return err
		}
	}
	return nil
}

// renameProc moves fields: rename: {fields: {level: log.level}}. A missing
// source is an error unless ignore_missing; an existing target is replaced.
type renameProc struct {
	from, to      []string
	ignoreMissing bool
}

func newRename(pc ProcessorConfig) (Processor, error) {
	var o struct {
		Fields        map[string]string `yaml:"fields"`
		IgnoreMissing bool              `yaml:"ignore_missing"`
	}
	if err := pc.decode(&o); err != nil {
		return nil, err
	}
	if len(o.Fields) == 0 {
		return nil, errors.New("fields: at least one from: to pair is required")
	}
	p := &renameProc{ignoreMissing: o.IgnoreMissing}
	for _, from := range slices.Sorted(maps.Keys(o.Fields)) {
		if from == "" || o.Fields[from] == "" {
			return nil, fmt.Errorf("fields: %q: %q: empty field name", from, o.Fields[from])
		}
		p.from, p.to = append(p.from, from), append(p.to, o.Fields[from])
	}
	return p, nil
}

func (p *renameProc) Process(e *Event) error {
	for i, from := range p.from {
		v, ok := e.Delete(from)
		if !ok {
			if p.ignoreMissing {
				continue
			}
			return fmt.Errorf("field %s not found", from)
		}
		if err := e.Put(p.to[i], v); err != nil {
			return err
		}
	}
	return nil
}

// removeProc deletes fields: remove: {fields: [time]}. A missing field is
// not an error.
type removeProc struct{ paths []string }

func newRemove(pc ProcessorConfig) (Processor, error) {
	var o struct {
		Fields []string `yaml:"fields"`
	}
	if err := pc.decode(&o); err != nil {
		return nil, err
	}
	if len(o.Fields) == 0 {
		return nil, errors.New("fields: at least one field is required")
	}
	if slices.Contains(o.Fields, "") {
		return nil, errors.New("fields: a field name is empty")
	}
	return &removeProc{paths: o.Fields}, nil
}

func (p *removeProc) Process(e *Event) error {
	for _, path := range p.paths {
		e.Delete(path)
	}
	return nil
}

// dropProc drops the event: drop: {if: 'url.original == "/healthz"'}. It
// takes no options of its own; without if it drops every event.
type dropProc struct{}

func newDrop(pc ProcessorConfig) (Processor, error) {
	if err := pc.decode(&struct{}{}); err != nil {
		return nil, err
	}
	return dropProc{}, nil
}

func (dropProc) Process(e *Event) error {
	e.Drop()
	return nil
}
