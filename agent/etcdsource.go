package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/retry"
)

// Defaults of EtcdSourceConfig.
const (
	defaultEtcdRetryInterval  = 2 * time.Second
	defaultEtcdRequestTimeout = 5 * time.Second
)

// EtcdSourceConfig configures an EtcdSource.
type EtcdSourceConfig struct {
	// Key holds the collect config, a JSON array of tasks (see ParseTasks).
	Key string
	// CacheFile keeps the last valid config read from etcd
	// (data_dir/collect_config.json); it is used when etcd is unreachable at
	// startup. Empty: no cache.
	CacheFile string
	// RetryInterval is the wait between Gets while etcd is unreachable at
	// startup, and the longest wait between attempts to re-list and re-watch
	// after a watch failed. Default 2s.
	RetryInterval time.Duration
	// RequestTimeout bounds each Get. Default 5s.
	RequestTimeout time.Duration
	// Policy, when set, is what a config may name (Agent.Policy: the host's
	// files.allowed_paths and kafka.allowed_topics). A config naming
	// anything else is rejected like an invalid one, the cached config too.
	Policy *collect.Policy
}

// EtcdSource reads the collect config from one etcd key and follows its
// changes: a snapshot (Get), then a watch from the snapshot's revision.
//
// What it guarantees:
//   - A value that does not parse or validate, or names a file or topic the
//     host's Policy does not allow, is rejected as a whole (logged at error
//     level with the task and the rule, logagent_config_reloads_total
//     {result="error"}) and the tasks running keep running.
//   - Deleting the key is not a config: it is logged and the running tasks
//     keep running. Put [] to stop every task.
//   - The last valid config read from etcd is cached in CacheFile. At
//     startup, when etcd gives no usable config (unreachable, key missing,
//     invalid value), the cache is applied with source "cache", so an agent
//     restarted during an etcd outage, or after the key was deleted by
//     mistake, keeps collecting what it collected before. Without a cache it
//     runs no tasks (nothing is applied) until etcd has a valid value.
//   - No change is lost: after a watch failure (ErrCompacted, lost leader,
//     canceled stream) the key is read again and watched from the new
//     revision, with backoff.
//
// Use it from one goroutine: Run once.
type EtcdSource struct {
	cli *clientv3.Client
	cfg EtcdSourceConfig
	log *slog.Logger
	m   *Metrics

	// Owned by Run's goroutine.
	applied     []collect.Task // running config, valid when hasApplied
	hasApplied  bool
	appliedFrom string // "etcd" | "cache"
	lastModRev  int64  // ModRevision and value of the last etcd value handled
	lastRaw     []byte // (rejected, applied or unchanged), to not handle it twice
	keyMissing  bool   // the key was found missing or deleted; reported once
	cacheTried  bool   // the cache is only used before anything else is applied
	cachedRaw   []byte // content of CacheFile, as last read or written

	upMu sync.Mutex // setUp is called by Run's goroutine and the prober
	up   bool       // last known etcd state, for logging transitions only
}

// NewEtcdSource returns a source of the collect config in cfg.Key. It does
// not talk to etcd before Run.
func NewEtcdSource(cli *clientv3.Client, cfg EtcdSourceConfig, log *slog.Logger, m *Metrics) *EtcdSource {
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = defaultEtcdRetryInterval
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultEtcdRequestTimeout
	}
	return &EtcdSource{
		cli: cli,
		cfg: cfg,
		log: log.With("component", "etcd_source", "key", cfg.Key),
		m:   m,
		up:  true, // so that the first failure is logged
	}
}

// Run calls apply with the initial task list and then with every valid
// change, until ctx is done; it returns nil then. apply is called from Run's
// goroutine, one call at a time, and must not modify tasks; source is
// "etcd" or "cache". When apply returns an error the update is counted as
// failed and the previous config is considered running; the same value is
// applied again by the next put of the key or the next re-list.
func (s *EtcdSource) Run(ctx context.Context, apply func(tasks []collect.Task, source string) error) error {
	if s.cfg.Key == "" {
		return errors.New("etcd source: empty key")
	}
	rev, ok := s.startup(ctx, apply)
	if !ok {
		return nil
	}
	s.watchLoop(ctx, rev, apply)
	return nil
}

// startup reads the key until etcd answers, applying the cache meanwhile.
// It returns the revision to watch from, or false when ctx is done.
func (s *EtcdSource) startup(ctx context.Context, apply func([]collect.Task, string) error) (int64, bool) {
	var lastWarn time.Time
	for attempt := 0; ; attempt++ {
		rev, err := s.snapshot(ctx, apply)
		if err == nil {
			return rev, true
		}
		if ctx.Err() != nil {
			return 0, false
		}
		switch {
		case attempt == 0:
			lastWarn = time.Now()
			if !s.applyCache(ctx, apply, "etcd is unreachable") {
				s.log.Error("no collect config: etcd is unreachable and there is no usable cache; running no tasks until etcd answers",
					"cache_file", s.cfg.CacheFile, "retry_interval", s.cfg.RetryInterval)
			}
		case time.Since(lastWarn) >= time.Minute:
			lastWarn = time.Now()
			s.log.Warn("etcd still unreachable, retrying", "endpoints", s.cli.Endpoints(), "attempts", attempt+1, "err", err)
		}
		if !retry.Sleep(ctx, s.cfg.RetryInterval) {
			return 0, false
		}
	}
}

// watchLoop watches the key from rev+1 and, whenever the watch ends, reads
// the key again and watches from the new revision, with backoff, until ctx
// is done.
func (s *EtcdSource) watchLoop(ctx context.Context, rev int64, apply func([]collect.Task, string) error) {
	// clientv3 hides outages from a watcher: the watch channel stays open
	// (and Watch itself blocks while the stream cannot be opened) until etcd
	// is back. A prober keeps logagent_etcd_up truthful meanwhile.
	pctx, stopProbe := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.probeLoop(pctx)
	}()
	defer wg.Wait()
	defer stopProbe()

	bo := retry.Backoff{Min: min(100*time.Millisecond, s.cfg.RetryInterval), Max: s.cfg.RetryInterval}
	for {
		started := time.Now()
		err := s.watch(ctx, rev, apply)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) >= bo.Max {
			bo.Reset() // it ran fine for a while: not a tight failure loop
		}
		if errors.Is(err, rpctypes.ErrCompacted) {
			s.log.Info("watch revision compacted, reading the key again", "watch_from_revision", rev+1, "err", err)
		} else {
			s.log.Warn("watch ended, reading the key again", "err", err)
			s.upMu.Lock()
			s.m.EtcdUp.Set(0)
			s.up = false
			s.upMu.Unlock()
		}
		for {
			if !retry.Sleep(ctx, bo.Next()) {
				return
			}
			rev, err = s.snapshot(ctx, apply)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// snapshot reads the key and handles its value. It returns the revision of
// the read, to watch from, and an error only when the Get failed.
func (s *EtcdSource) snapshot(ctx context.Context, apply func([]collect.Task, string) error) (int64, error) {
	gctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	resp, err := s.cli.Get(gctx, s.cfg.Key)
	cancel()
	if err != nil {
		s.setUp(false, "etcd get failed", err)
		return 0, fmt.Errorf("get %s: %w", s.cfg.Key, err)
	}
	s.setUp(true, "etcd get succeeded", nil)
	rev := resp.Header.Revision
	if len(resp.Kvs) == 0 {
		s.handleMissing(ctx, apply, rev)
		return rev, nil
	}
	kv := resp.Kvs[0]
	s.handleValue(ctx, apply, kv.Value, kv.ModRevision)
	if !s.hasApplied {
		// Startup with an invalid value in etcd: run the last good config.
		s.applyCache(ctx, apply, "the value in etcd is invalid")
	}
	return rev, nil
}

// handleMissing handles a Get finding no key. Missing is "no config yet",
// not "no tasks": nothing is applied and whatever runs keeps running (put []
// to stop every task). At startup the cache is what ran before, so it is
// applied.
func (s *EtcdSource) handleMissing(ctx context.Context, apply func([]collect.Task, string) error, rev int64) {
	if s.keyMissing {
		return // already reported
	}
	s.keyMissing = true
	s.lastModRev, s.lastRaw = 0, nil
	if s.hasApplied {
		s.log.Warn("collect config key not found in etcd; keeping the running tasks (put [] to stop them)",
			"running_tasks", len(s.applied), "revision", rev)
		return
	}
	if !s.applyCache(ctx, apply, "the key is missing in etcd") {
		s.log.Warn("collect config key not found in etcd; running no tasks until it is written", "revision", rev)
	}
}

// watch watches the key from rev+1 until the watch fails or ctx is done.
// It returns why the watch ended.
func (s *EtcdSource) watch(ctx context.Context, rev int64, apply func([]collect.Task, string) error) error {
	// WithRequireLeader: a member cut off from the quorum cancels the watch
	// (instead of silently delivering nothing), and we re-list elsewhere.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	// While etcd is down, clientv3 keeps the watch channel open and resumes
	// the watch from the next revision when etcd is back.
	wch := s.cli.Watch(wctx, s.cfg.Key, clientv3.WithRev(rev+1), clientv3.WithCreatedNotify())
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case resp, ok := <-wch:
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return errors.New("watch channel closed")
			}
			if err := resp.Err(); err != nil {
				return err
			}
			if resp.Created {
				s.setUp(true, "watching", nil)
			}
			for _, ev := range resp.Events {
				switch ev.Type {
				case clientv3.EventTypePut:
					s.handleValue(ctx, apply, ev.Kv.Value, ev.Kv.ModRevision)
				case clientv3.EventTypeDelete:
					s.lastModRev, s.lastRaw, s.keyMissing = ev.Kv.ModRevision, nil, true
					s.log.Warn("collect config key deleted in etcd; keeping the running tasks (put [] to stop them)",
						"running_tasks", len(s.applied), "revision", ev.Kv.ModRevision)
				}
			}
		}
	}
}

// probeLoop checks every 5 × RetryInterval that etcd answers, for
// logagent_etcd_up, until ctx is done.
func (s *EtcdSource) probeLoop(ctx context.Context) {
	tick := time.NewTicker(5 * s.cfg.RetryInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		_, err := s.cli.Get(pctx, s.cfg.Key, clientv3.WithCountOnly())
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.setUp(err == nil, "etcd probe", err)
	}
}

// handleValue validates an etcd value and applies it if it differs from
// the running config.
func (s *EtcdSource) handleValue(ctx context.Context, apply func([]collect.Task, string) error, raw []byte, modRev int64) {
	if modRev == s.lastModRev && bytes.Equal(raw, s.lastRaw) {
		return // seen by the watch before a re-list, or by the previous re-list
	}
	s.keyMissing = false
	tasks, err := s.parse(raw)
	if err != nil {
		s.lastModRev, s.lastRaw = modRev, bytes.Clone(raw)
		// Logged before it is counted, so that whoever sees the count finds the line.
		s.log.Error("invalid collect config in etcd rejected; keeping the running tasks",
			"mod_revision", modRev, "running_tasks", len(s.applied), "err", err)
		s.m.ConfigReloads.WithLabelValues("error").Inc()
		return
	}
	if s.hasApplied && tasksEqual(s.applied, tasks) {
		s.lastModRev, s.lastRaw = modRev, bytes.Clone(raw)
		if s.appliedFrom != "etcd" {
			s.log.Info("etcd config is the same as the cached one", "tasks", len(tasks), "mod_revision", modRev)
			s.appliedFrom = "etcd"
		}
		s.writeCache(raw)
		return
	}
	if err := apply(tasks, "etcd"); err != nil {
		if ctx.Err() != nil {
			return // shutting down
		}
		// lastModRev is not updated: the next re-list tries again.
		s.log.Error("applying the collect config from etcd failed", "mod_revision", modRev, "tasks", len(tasks), "err", err)
		s.m.ConfigReloads.WithLabelValues("error").Inc()
		return
	}
	s.lastModRev, s.lastRaw = modRev, bytes.Clone(raw)
	s.m.ConfigReloads.WithLabelValues("ok").Inc()
	s.applied, s.hasApplied, s.appliedFrom = tasks, true, "etcd"
	s.log.Info("collect config applied", "source", "etcd", "tasks", len(tasks), "mod_revision", modRev)
	s.writeCache(raw)
}

// parse parses and validates a collect config and checks it against the
// policy.
func (s *EtcdSource) parse(raw []byte) ([]collect.Task, error) {
	tasks, err := collect.ParseTasks(raw)
	if err != nil || s.cfg.Policy == nil {
		return tasks, err
	}
	if err := s.cfg.Policy.CheckTasks(tasks); err != nil {
		return nil, fmt.Errorf("refused by this host's policy: %w", err)
	}
	return tasks, nil
}

// applyCache applies the cached config when nothing has been applied yet.
// It reports whether it did.
func (s *EtcdSource) applyCache(ctx context.Context, apply func([]collect.Task, string) error, why string) bool {
	if s.hasApplied || s.cacheTried || s.cfg.CacheFile == "" {
		return false
	}
	s.cacheTried = true
	data, err := os.ReadFile(s.cfg.CacheFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		s.log.Error("reading the cached collect config failed", "cache_file", s.cfg.CacheFile, "err", err)
		return false
	}
	var cachedAt time.Time
	if fi, err := os.Stat(s.cfg.CacheFile); err == nil {
		cachedAt = fi.ModTime()
	}
	tasks, err := s.parse(data)
	if err != nil {
		s.log.Error("cached collect config is invalid; ignoring it", "cache_file", s.cfg.CacheFile, "err", err)
		return false
	}
	s.cachedRaw = data
	s.log.Warn("using the cached collect config: "+why, "cache_file", s.cfg.CacheFile,
		"cached_at", cachedAt.Format(time.RFC3339), "cache_age", time.Since(cachedAt).Round(time.Second).String(),
		"tasks", len(tasks))
	if err := apply(tasks, "cache"); err != nil {
		if ctx.Err() == nil {
			s.log.Error("applying the cached collect config failed", "cache_file", s.cfg.CacheFile, "err", err)
			s.m.ConfigReloads.WithLabelValues("error").Inc()
		}
		return false
	}
	s.m.ConfigReloads.WithLabelValues("ok").Inc()
	s.applied, s.hasApplied, s.appliedFrom = tasks, true, "cache"
	return true
}

// writeCache saves raw, a valid config from etcd, to CacheFile atomically.
func (s *EtcdSource) writeCache(raw []byte) {
	if s.cfg.CacheFile == "" || bytes.Equal(raw, s.cachedRaw) {
		return
	}
	err := os.MkdirAll(filepath.Dir(s.cfg.CacheFile), 0o755)
	if err == nil {
		err = writeFileAtomic(s.cfg.CacheFile, raw)
	}
	if err != nil {
		s.log.Error("saving the collect config cache failed; the previous cache stays", "cache_file", s.cfg.CacheFile, "err", err)
		return
	}
	s.cachedRaw = bytes.Clone(raw)
}

// setUp sets logagent_etcd_up and logs the transitions.
func (s *EtcdSource) setUp(up bool, what string, err error) {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	if up {
		s.m.EtcdUp.Set(1)
		if !s.up {
			s.log.Info("etcd reachable again", "event", what)
		}
	} else {
		s.m.EtcdUp.Set(0)
		if s.up {
			s.log.Warn("etcd unreachable, retrying", "event", what, "endpoints", s.cli.Endpoints(), "err", err)
		}
	}
	s.up = up
}

// tasksEqual reports whether a and b are the same task lists, in any order
// (paths are unique in a validated list).
func tasksEqual(a, b []collect.Task) bool {
	if len(a) != len(b) {
		return false
	}
	byPath := make(map[string]collect.Task, len(a))
	for _, t := range a {
		byPath[filepath.Clean(t.Path)] = t
	}
	for _, t := range b {
		o, ok := byPath[filepath.Clean(t.Path)]
		if !ok || !o.Equal(t) {
			return false
		}
	}
	return true
}
