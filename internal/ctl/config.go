package ctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/internal/collect"
)

// ConfigStore reads and writes the agents' collect configs in etcd, and
// keeps logtransfer's topics key listing their topics. It is safe for
// concurrent use.
type ConfigStore struct {
	cli       *clientv3.Client
	endpoints []string
	keyTmpl   string // the agents' etcd.collect_key, with {ip} and {hostname}
	topicsKey string // logtransfer's etcd.topics_key; "" leaves it alone
	timeout   time.Duration
}

// DefaultTopicsKey is logtransfer's default etcd.topics_key.
const DefaultTopicsKey = "/logtransfer/topics"

// NewConfigStore returns a store using cli (whose endpoints appear in
// errors), the agents' collect key template (collect.DefaultCollectKey when
// empty) and timeout for each request. It leaves logtransfer's topics key
// alone unless WithTopicsKey names it.
func NewConfigStore(cli *clientv3.Client, keyTemplate string, timeout time.Duration) *ConfigStore {
	if keyTemplate == "" {
		keyTemplate = collect.DefaultCollectKey
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &ConfigStore{cli: cli, endpoints: cli.Endpoints(), keyTmpl: keyTemplate, timeout: timeout}
}

// WithTopicsKey makes Put add the new topics of the configs it writes to
// logtransfer's topics key, key ("" for none; see Put), and returns s. Call
// it before using s.
func (s *ConfigStore) WithTopicsKey(key string) *ConfigStore {
	s.topicsKey = key
	return s
}

// CollectConfig is the collect config of one host as stored in etcd.
type CollectConfig struct {
	IP  string `json:"ip"`
	Key string `json:"key"`
	// Revision is the key's ModRevision, 0 when the key does not exist.
	Revision int64 `json:"revision"`
	// Value is the stored JSON, nil when the key does not exist.
	Value json.RawMessage `json:"tasks"`
}

// ConflictError is returned by Put when the key's revision is not the one
// the change was based on: someone else wrote it in between.
type ConflictError struct {
	Key              string
	Expected, Actual int64 // ModRevisions; 0 is "no key"
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s was changed by someone else (revision %d when read, now %d): nothing written; read it again and redo the change",
		e.Key, e.Expected, e.Actual)
}

// Key returns the collect key of the agent with this ip. When the key
// template uses {hostname}, the name comes from the agent's registration.
func (s *ConfigStore) Key(ctx context.Context, ip string) (string, error) {
	hostname := ""
	if strings.Contains(s.keyTmpl, "{hostname}") {
		a, err := GetAgent(ctx, s.cli, ip, s.timeout)
		if err != nil {
			return "", fmt.Errorf("collect key %s needs the host name of %s: %w", s.keyTmpl, ip, err)
		}
		hostname = a.Hostname
	}
	return s.key(ip, hostname), nil
}

func (s *ConfigStore) key(ip, hostname string) string {
	return collect.ExpandCollectKey(s.keyTmpl, ip, hostname)
}

// Get reads the collect config of the agent with this ip. A missing key is
// not an error: Revision is 0 and Value nil.
func (s *ConfigStore) Get(ctx context.Context, ip string) (CollectConfig, error) {
	key, err := s.Key(ctx, ip)
	if err != nil {
		return CollectConfig{}, err
	}
	return s.get(ctx, ip, key)
}

func (s *ConfigStore) get(ctx context.Context, ip, key string) (CollectConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return CollectConfig{}, connError("etcd", s.endpoints, "get "+key, err)
	}
	c := CollectConfig{IP: ip, Key: key}
	if len(resp.Kvs) > 0 {
		c.Revision = resp.Kvs[0].ModRevision
		c.Value = resp.Kvs[0].Value
	}
	return c, nil
}

// GetAll reads the collect config of every registered agent, in the order
// of ListAgents.
func (s *ConfigStore) GetAll(ctx context.Context) ([]CollectConfig, error) {
	agents, err := ListAgents(ctx, s.cli, s.timeout)
	if err != nil {
		return nil, err
	}
	out := make([]CollectConfig, 0, len(agents))
	for _, a := range agents {
		c, err := s.get(ctx, a.IP, s.key(a.IP, a.Hostname))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Validate checks a collect config with collect.ParseTasks, the agents' own
// parser, and returns its tasks with defaults applied.
func Validate(data []byte) ([]collect.Task, error) {
	return collect.ParseTasks(data)
}

// defaultPolicy is what an agent with the default files.allowed_paths and
// no kafka.allowed_topics allows.
var defaultPolicy = func() *collect.Policy {
	p, err := collect.NewPolicy(collect.DefaultAllowedPaths, nil)
	if err != nil {
		panic(err) // a constant
	}
	return p
}()

// WarnOutsideDefaultRoots writes a warning to w for each task whose path is
// outside the agents' default files.allowed_paths (as written: the hosts'
// symlinks are not known here). An agent with the default refuses the
// whole config; one whose files.allowed_paths includes the path applies
// it, so it is a warning, not an error. It reports whether it warned.
func WarnOutsideDefaultRoots(w io.Writer, tasks []collect.Task) bool {
	err := defaultPolicy.CheckTasksAsWritten(tasks)
	if err == nil {
		return false
	}
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintf(w, "warning: %s\n", line)
	}
	fmt.Fprintf(w, "warning: an agent with the default files.allowed_paths %q refuses this whole config; "+
		"it applies only on hosts whose own config allows these paths\n", collect.DefaultAllowedPaths)
	return true
}

// Put validates value and writes it to key if the key's ModRevision is
// still rev (0: the key must not exist). It returns the new revision, or a
// *ConflictError when the key changed since rev. An invalid value is never
// written.
//
// A task's topic must also be consumed by logtransfer, or its lines reach
// Kafka and are never indexed: in the same transaction, the topics of value
// that logtransfer's topics key does not list yet are added to it (the
// key's other topics are kept; a topic is never removed, since another
// agent may still ship to it). The topics added are in the result. When the
// topics key changes between its read and the write, the write is retried.
func (s *ConfigStore) Put(ctx context.Context, key string, value []byte, rev int64) (SetResult, error) {
	tasks, err := Validate(value)
	if err != nil {
		return SetResult{}, fmt.Errorf("invalid collect config, nothing written to %s: %w", key, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}
		ops := []clientv3.Op{clientv3.OpPut(key, string(value))}
		var added []string
		if s.topicsKey != "" {
			topics, topicsRev, err := s.topics(ctx)
			if err != nil {
				return SetResult{}, err
			}
			for _, t := range tasks {
				if !slices.Contains(topics, t.Topic) && !slices.Contains(added, t.Topic) {
					added = append(added, t.Topic)
				}
			}
			if len(added) > 0 {
				list, err := json.Marshal(append(topics, added...))
				if err != nil {
					return SetResult{}, err
				}
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.topicsKey), "=", topicsRev))
				ops = append(ops, clientv3.OpPut(s.topicsKey, string(list)))
			}
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			op := "write " + key
			if len(added) > 0 {
				op += " and " + s.topicsKey
			}
			return SetResult{}, s.topicsHint(connError("etcd", s.endpoints, op, err))
		}
		if resp.Succeeded {
			r := SetResult{Key: key, Revision: resp.Header.Revision}
			if len(added) > 0 {
				r.TopicsKey, r.TopicsAdded = s.topicsKey, added
			}
			return r, nil
		}
		actual := int64(0)
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			actual = kvs[0].ModRevision
		}
		if actual != rev {
			return SetResult{}, &ConflictError{Key: key, Expected: rev, Actual: actual}
		}
		if attempt == 5 { // the topics key keeps changing under us
			return SetResult{}, fmt.Errorf("%s keeps changing: nothing written to %s; try again", s.topicsKey, key)
		}
	}
}

// topicsHint adds to an etcd permission error what to do when the user may
// write collect configs but not logtransfer's topics key.
func (s *ConfigStore) topicsHint(err error) error {
	if s.topicsKey == "" || !errors.Is(err, rpctypes.ErrPermissionDenied) {
		return err
	}
	return fmt.Errorf("%w (nothing written: logctl also adds new topics to logtransfer's %s; grant this etcd user read and write on it, or give --topics-key \"\" to leave it alone)", err, s.topicsKey)
}

// topics reads logtransfer's topics key: its list and ModRevision (0 and no
// topics when it does not exist).
func (s *ConfigStore) topics(ctx context.Context) ([]string, int64, error) {
	resp, err := s.cli.Get(ctx, s.topicsKey)
	if err != nil {
		return nil, 0, s.topicsHint(connError("etcd", s.endpoints, "get "+s.topicsKey, err))
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	var topics []string
	if err := json.Unmarshal(resp.Kvs[0].Value, &topics); err != nil {
		return nil, 0, fmt.Errorf("logtransfer's topics key %s is not a JSON list of topic names (%v): nothing written; fix it, or give --topics-key \"\" to leave it alone", s.topicsKey, err)
	}
	return topics, resp.Kvs[0].ModRevision, nil
}

// SetResult is the outcome of writing one host's collect config.
type SetResult struct {
	IP       string
	Key      string
	Revision int64 // the new revision when written
	Err      error // why it was not written
	// TopicsAdded are the topics added to logtransfer's topics key,
	// TopicsKey, with the config (see Put).
	TopicsKey   string
	TopicsAdded []string
}

// Set writes value as the collect config of the agent with this ip. rev is
// the ModRevision the change is based on; a negative rev means the revision
// read now, which still refuses a write racing with another one.
func (s *ConfigStore) Set(ctx context.Context, ip string, value []byte, rev int64) (SetResult, error) {
	if _, err := Validate(value); err != nil {
		return SetResult{}, fmt.Errorf("invalid collect config: %w", err)
	}
	key, err := s.Key(ctx, ip)
	if err != nil {
		return SetResult{}, err
	}
	return s.set(ctx, ip, key, value, rev)
}

func (s *ConfigStore) set(ctx context.Context, ip, key string, value []byte, rev int64) (SetResult, error) {
	if rev < 0 {
		cur, err := s.get(ctx, ip, key)
		if err != nil {
			return SetResult{}, err
		}
		rev = cur.Revision
	}
	r, err := s.Put(ctx, key, value, rev)
	if err != nil {
		return SetResult{}, err
	}
	r.IP = ip
	return r, nil
}

// setAllParallel is how many hosts SetAll writes at once: one at a time, a
// round trip of a read and a transaction per host took 21-25 s for 10,000
// agents (SCALE.md); a few in flight keep etcd's own batching busy without
// flooding it.
const setAllParallel = 16

// SetAll writes value as the collect config of every registered agent, each
// key with its own compare-and-swap on the revision read just before,
// setAllParallel hosts at a time. It goes on after a failure; the results,
// in the agents' order, say which hosts failed, and the error is non-nil
// when any did (or when none is registered).
func (s *ConfigStore) SetAll(ctx context.Context, value []byte) ([]SetResult, error) {
	if _, err := Validate(value); err != nil {
		return nil, fmt.Errorf("invalid collect config: %w", err)
	}
	agents, err := ListAgents(ctx, s.cli, s.timeout)
	if err != nil {
		return nil, err
	}
	if len(agents) == 0 {
		return nil, errors.New("no agent is registered: nothing written")
	}
	results := make([]SetResult, len(agents))
	var g errgroup.Group
	g.SetLimit(setAllParallel)
	for i, a := range agents {
		g.Go(func() error {
			key := s.key(a.IP, a.Hostname)
			r, err := s.set(ctx, a.IP, key, value, -1)
			if err != nil {
				r = SetResult{IP: a.IP, Key: key, Err: err}
			}
			results[i] = r
			return nil
		})
	}
	_ = g.Wait() // each host's error is in its result
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
	}
	if failed > 0 {
		return results, fmt.Errorf("%d of %d agents not updated", failed, len(agents))
	}
	return results, nil
}

// Editor runs an interactive edit of one collect config.
type Editor struct {
	// Command is the editor, a shell command line such as "vim" or
	// "code --wait"; the file name is appended as its last argument.
	Command string
	// Stdin, Stdout and Stderr are given to the editor.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Answers holds the operator's answers to "re-open the editor?" and
	// Prompts receives the question and the validation errors.
	Answers *bufio.Reader
	Prompts io.Writer
}

// ErrNoChange is returned by Edit when the file was saved unchanged.
var ErrNoChange = errors.New("no changes: nothing written")

// Edit opens the collect config of the agent with this ip in the editor and
// writes the result when it is valid and different, with a compare-and-swap
// on the revision read before the editor opened. An invalid result is shown
// with its error and the operator is asked whether to re-open the editor;
// "n" or end of input aborts without writing. When the write fails (a
// conflict, etcd down), the edited file is kept and named in the error.
func (s *ConfigStore) Edit(ctx context.Context, ip string, ed Editor) (SetResult, error) {
	cur, err := s.Get(ctx, ip)
	if err != nil {
		return SetResult{}, err
	}
	initial := editable(cur.Value)
	f, err := os.CreateTemp("", "logctl-collect-*.json")
	if err != nil {
		return SetResult{}, fmt.Errorf("edit: %w", err)
	}
	path := f.Name()
	_, err = f.Write(initial)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return SetResult{}, fmt.Errorf("edit: write %s: %w", path, err)
	}
	keep := false
	defer func() {
		if !keep {
			os.Remove(path)
		}
	}()
	for {
		if err := ed.run(ctx, path); err != nil {
			return SetResult{}, fmt.Errorf("editor %q failed, nothing written: %w", ed.Command, err)
		}
		edited, err := os.ReadFile(path)
		if err != nil {
			return SetResult{}, fmt.Errorf("edit: read %s: %w", path, err)
		}
		if bytes.Equal(bytes.TrimSpace(edited), bytes.TrimSpace(initial)) {
			return SetResult{}, ErrNoChange
		}
		tasks, verr := Validate(edited)
		if verr != nil {
			fmt.Fprintf(ed.Prompts, "invalid collect config: %v\nre-open the editor? [Y/n] ", verr)
			if !ed.yes() {
				return SetResult{}, fmt.Errorf("invalid collect config, nothing written: %w", verr)
			}
			continue
		}
		WarnOutsideDefaultRoots(ed.Prompts, tasks)
		r, err := s.Put(ctx, cur.Key, edited, cur.Revision)
		if err != nil {
			keep = true
			return SetResult{}, fmt.Errorf("%w (your edit is kept in %s)", err, path)
		}
		r.IP = ip
		return r, nil
	}
}

// editable is the text given to the editor: the stored JSON indented, or
// as stored when it does not parse, or an empty list for a missing key.
func editable(v []byte) []byte {
	if v == nil {
		return []byte("[]\n")
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, v, "", "  "); err != nil {
		return v
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func (ed Editor) run(ctx context.Context, path string) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", ed.Command+` "$1"`, "logctl-editor", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ed.Stdin, ed.Stdout, ed.Stderr
	return cmd.Run()
}

// yes reads one answer: empty, "y" or "yes" is yes; end of input is no.
func (ed Editor) yes() bool {
	line, err := ed.Answers.ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(ed.Prompts)
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "", "y", "yes":
		return true
	}
	return false
}
