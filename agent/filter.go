package agent

import (
	"regexp"

	"github.com/logcollect/logcollect/internal/collect"
)

// lineFilter is a task's include_lines and exclude_lines, with Filebeat's
// semantics: when include is set, only events matching at least one of its
// regexps are kept; then events matching any regexp of exclude are dropped.
// It sees an event's text after multiline joining (the whole joined event,
// as cut by max_line_bytes) and before encoding.
//
// A task without filters has no lineFilter (nil): the harvester's per-event
// cost is then a nil check. Matching allocates nothing; a lineFilter is safe
// for concurrent use (the harvesters of one task share it).
type lineFilter struct {
	include, exclude []*regexp.Regexp
}

// newLineFilter returns t's filter, or nil when t has neither include_lines
// nor exclude_lines. t must have been validated by collect.ParseTasks or
// collect.ValidateTasks (it panics otherwise, a programming error).
func newLineFilter(t collect.Task) *lineFilter {
	include, exclude := t.LineFilters()
	if len(include) != len(t.IncludeLines) || len(exclude) != len(t.ExcludeLines) {
		panic("agent: newLineFilter: task was not validated")
	}
	if len(include) == 0 && len(exclude) == 0 {
		return nil
	}
	return &lineFilter{include: include, exclude: exclude}
}

// keep reports whether an event with this text is shipped.
func (f *lineFilter) keep(text []byte) bool {
	if len(f.include) > 0 && !matchAny(f.include, text) {
		return false
	}
	return !matchAny(f.exclude, text)
}

func matchAny(res []*regexp.Regexp, text []byte) bool {
	for _, re := range res {
		if re.Match(text) {
			return true
		}
	}
	return false
}
