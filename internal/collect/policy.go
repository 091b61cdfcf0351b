package collect

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// DefaultAllowedPaths is logagent's files.allowed_paths when unset: the
// files a collect config from etcd may name. logctl warns about tasks
// outside it.
var DefaultAllowedPaths = []string{"/var/log/**"}

// Policy is what a host lets a remote collect config name: the files
// (files.allowed_paths) and the Kafka topics (kafka.allowed_topics), as
// globs where ** matches any number of directories. It lives in the agent's
// own config file, which etcd cannot change, so whoever can write a host's
// collect key cannot make the agent ship /etc/shadow or a service account
// token.
//
// It is checked twice. CheckTasks refuses a config naming a path or topic
// outside, before any task of it runs; AllowsFile is asked again for every
// file, with its symlinks resolved, when it is opened (a symlink created
// later, a directory replaced by one). A Policy is immutable and safe for
// concurrent use.
type Policy struct {
	paths    []string // as written
	patterns []string // paths plus, for each, its literal directory with symlinks resolved
	topics   []string // empty: any topic
}

// CheckPathRule checks one files.allowed_paths glob: absolute, clean, valid.
func CheckPathRule(rule string) error {
	switch {
	case rule == "":
		return errors.New("must not be empty")
	case !filepath.IsAbs(rule):
		return errors.New("must be absolute")
	case !doublestar.ValidatePattern(rule):
		return errors.New("invalid glob")
	case rule != "/" && filepath.Clean(rule) != strings.TrimSuffix(rule, "/"):
		return fmt.Errorf("must be clean (%s)", filepath.Clean(rule))
	}
	return nil
}

// CheckTopicRule checks one kafka.allowed_topics glob.
func CheckTopicRule(rule string) error {
	if rule == "" {
		return errors.New("must not be empty")
	}
	if !doublestar.ValidatePattern(rule) {
		return errors.New("invalid glob")
	}
	return nil
}

// NewPolicy returns the policy allowing the files matching one of paths
// and the topics matching one of topics (every topic when topics is
// empty). paths must not be empty. Each path glob also matches where its
// literal directory really is: with /var/log a symlink to /data/log,
// /var/log/** allows /data/log/app.log too.
func NewPolicy(paths, topics []string) (*Policy, error) {
	if len(paths) == 0 {
		return nil, errors.New("files.allowed_paths: must not be empty")
	}
	var errs []error
	p := &Policy{paths: slices.Clone(paths), topics: slices.Clone(topics)}
	for i, rule := range paths {
		if err := CheckPathRule(rule); err != nil {
			errs = append(errs, fmt.Errorf("files.allowed_paths[%d] %q: %w", i, rule, err))
			continue
		}
		p.patterns = append(p.patterns, rule)
		base, rest := doublestar.SplitPattern(rule)
		if real, err := filepath.EvalSymlinks(base); err == nil && real != base {
			p.patterns = append(p.patterns, filepath.Join(real, rest))
		}
	}
	for i, rule := range topics {
		if err := CheckTopicRule(rule); err != nil {
			errs = append(errs, fmt.Errorf("kafka.allowed_topics[%d] %q: %w", i, rule, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// AllowsFile reports whether the file at real, a path with every symlink
// resolved (filepath.EvalSymlinks), may be read.
func (p *Policy) AllowsFile(real string) bool {
	for _, pat := range p.patterns {
		if doublestar.MatchUnvalidated(pat, real) {
			return true
		}
	}
	return false
}

// AllowsTopic reports whether records may be produced to topic.
func (p *Policy) AllowsTopic(topic string) bool {
	if len(p.topics) == 0 {
		return true
	}
	for _, pat := range p.topics {
		if doublestar.MatchUnvalidated(pat, topic) {
			return true
		}
	}
	return false
}

// PathRule describes the files rule for messages: files.allowed_paths and
// its globs.
func (p *Policy) PathRule() string { return fmt.Sprintf("files.allowed_paths %q", p.paths) }

// CheckTasks checks validated tasks against the policy and returns an error
// naming each task outside it (index, path) and the rule it breaks. A task's
// path is checked with the symlinks of its literal part resolved (the whole
// path when it is not a glob, else the directory before the first glob
// character); its glob characters are matched as plain characters, so
// /var/log/*.log is inside /var/log/** but /var/*/x.log is not. Paths with a
// ".." element are refused: where they lead depends on symlinks below a glob.
func (p *Policy) CheckTasks(tasks []Task) error {
	return p.checkTasks(tasks, resolvePattern)
}

// CheckTasksAsWritten is CheckTasks without resolving symlinks: for a
// config checked away from the host that will read it (logctl warns with
// it), where the host's symlinks are unknown.
func (p *Policy) CheckTasksAsWritten(tasks []Task) error {
	return p.checkTasks(tasks, func(pattern string) (string, error) { return pattern, nil })
}

func (p *Policy) checkTasks(tasks []Task, resolve func(string) (string, error)) error {
	var errs []error
	for i, t := range tasks {
		if err := p.checkTask(t, resolve); err != nil {
			errs = append(errs, taskError(i, t.Path, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Policy) checkTask(t Task, resolve func(string) (string, error)) error {
	if !p.AllowsTopic(t.Topic) {
		return fmt.Errorf("topic %q is outside kafka.allowed_topics %q", t.Topic, p.topics)
	}
	if slices.Contains(strings.Split(t.Path, "/"), "..") {
		return fmt.Errorf("path: must not contain \"..\" under %s", p.PathRule())
	}
	resolved, err := resolve(filepath.Clean(t.Path))
	if err != nil {
		return fmt.Errorf("path: %w", err)
	}
	if !p.AllowsFile(resolved) {
		if resolved != filepath.Clean(t.Path) {
			return fmt.Errorf("path resolves to %q, outside %s", resolved, p.PathRule())
		}
		return fmt.Errorf("path is outside %s", p.PathRule())
	}
	return nil
}

// resolvePattern resolves the symlinks of the literal part of a clean
// absolute glob without "..": the whole path when it has no glob character,
// else its directory before the first one. A part that does not exist yet
// is kept as written below the deepest existing directory, resolved.
func resolvePattern(pattern string) (string, error) {
	base, rest := pattern, ""
	if strings.ContainsAny(pattern, `*?[{\`) {
		base, rest = doublestar.SplitPattern(pattern)
	}
	var tail []string
	for {
		real, err := filepath.EvalSymlinks(base)
		if err == nil {
			slices.Reverse(tail)
			return filepath.Join(append([]string{real}, append(tail, rest)...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || base == "/" {
			return "", fmt.Errorf("resolve %s: %w", base, err)
		}
		tail = append(tail, filepath.Base(base))
		base = filepath.Dir(base)
	}
}
