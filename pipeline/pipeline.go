package pipeline

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Pipeline is a compiled Config. Run is safe for concurrent use.
type Pipeline struct {
	name         string
	keepOriginal bool
	steps        []step
}

// step is one processor with the options every type takes.
type step struct {
	id            string      // tag, or the type
	index         int         // in the pipeline's list
	cond          *vm.Program // nil: always
	ignoreFailure bool
	proc          Processor
}

// common are the options every processor takes, beside its own.
type common struct {
	If            string
	IgnoreFailure bool
	Tag           string
}

// split reads the common options of pc and returns them, with pc's own
// options: the rest.
func (pc ProcessorConfig) split() (common, ProcessorConfig, error) {
	var c common
	own := ProcessorConfig{typ: pc.typ}
	if pc.opts.Kind == 0 {
		return c, own, nil
	}
	own.opts = pc.opts
	own.opts.Content = nil
	for i := 0; i+1 < len(pc.opts.Content); i += 2 {
		k, v := pc.opts.Content[i], pc.opts.Content[i+1]
		var err error
		switch k.Value {
		case "if":
			err = v.Decode(&c.If)
		case "ignore_failure":
			err = v.Decode(&c.IgnoreFailure)
		case "tag":
			err = v.Decode(&c.Tag)
		default:
			own.opts.Content = append(own.opts.Content, k, v)
			continue
		}
		if err != nil {
			return c, own, fmt.Errorf("%s: %w", k.Value, err)
		}
	}
	return c, own, nil
}

// New compiles cfg. Its errors name the pipeline and the processor.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Name == "" {
		return nil, errors.New("pipeline: name: required")
	}
	p := &Pipeline{name: cfg.Name, keepOriginal: cfg.KeepOriginal}
	for i, pc := range cfg.Processors {
		s, err := newStep(i, pc)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: processors[%d] (%s): %w", cfg.Name, i, pc.typ, err)
		}
		p.steps = append(p.steps, s)
	}
	return p, nil
}

func newStep(i int, pc ProcessorConfig) (step, error) {
	f, ok := factories[pc.typ]
	if !ok {
		return step{}, unknownType(pc.typ)
	}
	c, own, err := pc.split()
	if err != nil {
		return step{}, err
	}
	proc, err := f(own)
	if err != nil {
		return step{}, err
	}
	s := step{id: pc.typ, index: i, ignoreFailure: c.IgnoreFailure, proc: proc}
	if c.Tag != "" {
		s.id = c.Tag
	}
	if c.If != "" {
		prog, err := expr.Compile(c.If, expr.AsBool(), expr.AllowUndefinedVariables())
		if err != nil {
			return step{}, fmt.Errorf("if %q: %w", c.If, err)
		}
		s.cond = prog
	}
	return s, nil
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string { return p.name }

// ProcessorError is why a pipeline failed on an event: the step that failed
// and its error.
type ProcessorError struct {
	Pipeline  string
	Processor string // the step's tag, or its type
	Index     int    // the step's place in the pipeline
	Err       error
}

func (e *ProcessorError) Error() string {
	return fmt.Sprintf("pipeline %s: processors[%d] (%s): %v", e.Pipeline, e.Index, e.Processor, e.Err)
}

func (e *ProcessorError) Unwrap() error { return e.Err }

// Run runs the pipeline on e. It returns nil when the event went through
// every step (or was dropped: see e.Dropped). When a step fails, e is given
// back as it came in, with error.message and the tag _pipeline_error added,
// and Run returns the *ProcessorError.
func (p *Pipeline) Run(e *Event) error {
	var original map[string]any
	if len(p.steps) > 0 {
		original = clone(e.Fields)
	}
	return p.run(e, original, nil)
}

// run is Run, given the event as it came in: original, or when restore is
// not nil, what restore returns, called only when a step fails. RunRecord
// builds the event again from the record's bytes instead of copying every
// event beforehand, which took a sixth of a short pipeline's time.
func (p *Pipeline) run(e *Event, original map[string]any, restore func() map[string]any) error {
	if p.keepOriginal {
		if msg, ok := e.GetString("message"); ok {
			_ = e.Put("event.original", msg)
		}
	}
	for _, s := range p.steps {
		if s.cond != nil && !s.holds(e) {
			continue
		}
		err := s.proc.Process(e)
		if e.dropped {
			return nil
		}
		if err == nil || s.ignoreFailure {
			continue
		}
		perr := &ProcessorError{Pipeline: p.name, Processor: s.id, Index: s.index, Err: err}
		if restore != nil {
			original = restore()
		}
		e.Fields = original
		if p.keepOriginal {
			if msg, ok := e.GetString("message"); ok {
				_ = e.Put("event.original", msg)
			}
		}
		flagFailure(e, perr)
		return perr
	}
	return nil
}

// holds evaluates the step's condition on e. A condition that cannot be
// evaluated (a field it compares is missing, or of another type) is false,
// as Filebeat's conditions are.
func (s step) holds(e *Event) bool {
	out, err := expr.Run(s.cond, e.Fields)
	if err != nil {
		return false
	}
	b, _ := out.(bool)
	return b
}

// PipelineErrorTag marks the events a pipeline failed on.
const PipelineErrorTag = "_pipeline_error"

// flagFailure adds error.message and the _pipeline_error tag to e.
func flagFailure(e *Event, err error) {
	if em, ok := e.Fields["error"].(map[string]any); ok {
		em["message"] = err.Error()
	} else {
		e.Fields["error"] = map[string]any{"message": err.Error()}
	}
	switch tags := e.Fields["tags"].(type) {
	case []any:
		e.Fields["tags"] = append(tags, PipelineErrorTag)
	case string:
		e.Fields["tags"] = []any{tags, PipelineErrorTag}
	default:
		e.Fields["tags"] = []any{PipelineErrorTag}
	}
}
