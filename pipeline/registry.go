package pipeline

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Processor is one step of a pipeline. Process changes e in place, or
// returns why it could not (the pipeline then gives the event back as it
// came, flagged). A processor is built once and used by one goroutine at a
// time per Pipeline, but Pipelines run concurrently: Process must not keep
// state between calls.
type Processor interface {
	Process(e *Event) error
}

// factory builds a processor from its options (see ProcessorConfig.decode).
type factory func(opts ProcessorConfig) (Processor, error)

// factories are the processor types, by name; each processor's file
// registers its type in an init function.
var factories = map[string]factory{}

func register(typ string, f factory) {
	if _, dup := factories[typ]; dup {
		panic("pipeline: processor type registered twice: " + typ)
	}
	factories[typ] = f
}

// Types returns the processor types, sorted.
func Types() []string { return slices.Sorted(maps.Keys(factories)) }

func unknownType(typ string) error {
	return fmt.Errorf("unknown processor type %q, want one of %s", typ, strings.Join(Types(), ", "))
}
