package pipeline

// What a compiled set holds, for the metrics of its caller: the label values
// of a set's series are its pipelines' names and their steps' ids, bounded by
// the configuration.

// Pipelines returns the set's pipelines, in configuration order.
func (s *Set) Pipelines() []*Pipeline {
	if s == nil {
		return nil
	}
	out := make([]*Pipeline, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.p
	}
	return out
}

// Processors returns the ids of the pipeline's steps, in order: each step's
// tag, or else its type, as ProcessorError.Processor names it. An id may
// appear more than once.
func (p *Pipeline) Processors() []string {
	out := make([]string, len(p.steps))
	for i, s := range p.steps {
		out[i] = s.id
	}
	return out
}
