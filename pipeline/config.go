package pipeline

import (
	"bytes"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Config is one pipeline, under pipelines: in logtransfer's config or in the
// etcd key of pipelines.
type Config struct {
	Name       string   `yaml:"name" json:"name"`               // unique; in metrics and errors
	Topics     []string `yaml:"topics" json:"topics"`           // the topics it runs on, with or instead of topic_regex
	TopicRegex string   `yaml:"topic_regex" json:"topic_regex"` // RE2, matched against whole topic names
	// KeepOriginal keeps the line as it came, in event.original.
	KeepOriginal bool              `yaml:"keep_original" json:"keep_original"`
	Processors   []ProcessorConfig `yaml:"processors" json:"processors"` // run in order
}

// ProcessorConfig is one step of a pipeline: a map of one key, the
// processor's type, to its options, such as `json: {field: message}`. The
// options every type takes are `if` (a condition), `ignore_failure` and
// `tag` (the step's name in errors and metrics; default the type).
type ProcessorConfig struct {
	typ  string
	opts yaml.Node // a mapping node; zero when the options are empty
}

// Type returns the processor's type, such as "json".
func (p ProcessorConfig) Type() string { return p.typ }

// UnmarshalYAML reads {type: options}.
func (p *ProcessorConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return fmt.Errorf("line %d: a processor is a map of one key, its type, such as `- json: {field: message}`", n.Line)
	}
	if err := n.Content[0].Decode(&p.typ); err != nil {
		return err
	}
	switch o := n.Content[1]; {
	case o.Kind == yaml.MappingNode:
		p.opts = *o
	case o.Tag == "!!null":
		p.opts = yaml.Node{}
	default:
		return fmt.Errorf("line %d: options of %s must be a map, such as {} for none", o.Line, p.typ)
	}
	return nil
}

// MarshalYAML writes {type: options}.
func (p ProcessorConfig) MarshalYAML() (any, error) {
	opts := p.opts
	if opts.Kind == 0 {
		opts = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	return map[string]*yaml.Node{p.typ: &opts}, nil
}

// decode decodes the options into v (a pointer to the processor's options
// struct) strictly: an unknown option is an error.
func (p ProcessorConfig) decode(v any) error {
	if p.opts.Kind == 0 {
		return nil
	}
	// yaml.Node.Decode has no strict mode: encode the node again and decode
	// it with a strict decoder.
	b, err := yaml.Marshal(&p.opts)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			return errors.New(te.Errors[0])
		}
		return err
	}
	return nil
}

// Parse reads a list of pipelines from YAML or JSON (JSON is YAML), as kept
// in etcd, strictly, and checks it as NewSet does.
func Parse(data []byte) ([]Config, error) {
	var cfgs []Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfgs); err != nil {
		return nil, fmt.Errorf("pipelines: %w", err)
	}
	if _, err := NewSet(cfgs); err != nil {
		return nil, err
	}
	return cfgs, nil
}
