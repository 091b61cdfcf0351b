package pipeline

import (
	"fmt"
	"regexp"
	"sync"

	"github.com/logcollect/logcollect/internal/kafkaclient"
)

// Set is the pipelines of a logtransfer: each topic runs the first pipeline
// that names it (in topics, or by topic_regex); a topic no pipeline names is
// indexed as it comes. For is safe for concurrent use.
type Set struct {
	entries []setEntry
	byTopic sync.Map // topic → *Pipeline (nil when none): the first match, cached
}

type setEntry struct {
	p      *Pipeline
	topics map[string]bool
	re     *regexp.Regexp
}

// NewSet compiles cfgs: names must be unique, each pipeline must name topics
// or a topic_regex, and every processor must compile. Errors name the
// pipeline (by name, or by index when it has none) and the processor.
func NewSet(cfgs []Config) (*Set, error) {
	s := &Set{}
	names := map[string]int{}
	for i, c := range cfgs {
		where := fmt.Sprintf("pipelines[%d]", i)
		if c.Name != "" {
			where = fmt.Sprintf("pipeline %s", c.Name)
		}
		if j, dup := names[c.Name]; dup && c.Name != "" {
			return nil, fmt.Errorf("%s: name: duplicate of pipelines[%d]", where, j)
		}
		names[c.Name] = i
		if len(c.Topics) == 0 && c.TopicRegex == "" {
			return nil, fmt.Errorf("%s: set topics, topic_regex or both", where)
		}
		e := setEntry{topics: map[string]bool{}}
		for j, t := range c.Topics {
			if !kafkaclient.ValidTopic(t) {
				return nil, fmt.Errorf("%s: topics[%d] %q: not a valid topic name", where, j, t)
			}
			e.topics[t] = true
		}
		if c.TopicRegex != "" {
			if _, err := regexp.Compile(c.TopicRegex); err != nil {
				return nil, fmt.Errorf("%s: topic_regex: %w", where, err)
			}
			e.re = regexp.MustCompile(`^(?:` + c.TopicRegex + `)$`) // whole names, as kafka.topic_regex
		}
		p, err := New(c)
		if err != nil {
			if c.Name == "" {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			return nil, err
		}
		e.p = p
		s.entries = append(s.entries, e)
	}
	return s, nil
}

// For returns the pipeline of topic, or nil when no pipeline names it.
func (s *Set) For(topic string) *Pipeline {
	if s == nil {
		return nil
	}
	if p, ok := s.byTopic.Load(topic); ok {
		return p.(*Pipeline)
	}
	var found *Pipeline
	for _, e := range s.entries {
		if e.topics[topic] || (e.re != nil && e.re.MatchString(topic)) {
			found = e.p
			break
		}
	}
	s.byTopic.Store(topic, found)
	return found
}

// Len returns the number of pipelines.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.entries)
}
