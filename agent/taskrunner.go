package agent

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcollect/logcollect/internal/collect"
)

// taskMetrics are a task's series, resolved once: the per-line path must not
// pay for label lookups.
type taskMetrics struct {
	linesRead, bytesRead, recordsSent, bytesSent, sendErrors prometheus.Counter
	linesTruncated, filesTruncated, fileErrors               prometheus.Counter
	latency                                                  prometheus.Observer
	filesOpen                                                prometheus.Gauge
	linesFiltered                                            prometheus.Counter
}

func newTaskMetrics(m *Metrics, task, topic string) *taskMetrics {
	return &taskMetrics{
		linesRead:      m.LinesRead.WithLabelValues(task, topic),
		bytesRead:      m.BytesRead.WithLabelValues(task, topic),
		recordsSent:    m.RecordsSent.WithLabelValues(task, topic),
		bytesSent:      m.BytesSent.WithLabelValues(task, topic),
		sendErrors:     m.SendErrors.WithLabelValues(task, topic),
		linesTruncated: m.LinesTruncated.WithLabelValues(task, topic),
		linesFiltered:  m.LinesFiltered.WithLabelValues(task, topic),
		filesTruncated: m.FilesTruncated.WithLabelValues(task, topic),
		fileErrors:     m.FileErrors.WithLabelValues(task, topic),
		latency:        m.ProduceLatency.WithLabelValues(topic),
		filesOpen:      m.FilesOpen.WithLabelValues(task, topic),
	}
}

// taskRunner runs one collect task: it expands the task's glob every
// scan_frequency (and at once when a harvester saw its file rotate), and runs
// one harvester per matching file.
type taskRunner struct {
	task        collect.Task
	files       FilesConfig
	enc         *encoder
	encOverhead int
	filter      *lineFilter // nil: every event is shipped
	ship        *shipper
	reg         *Registry
	claims      *claims
	watcher     *fileWatcher    // nil: harvesters poll
	policy      *collect.Policy // nil: a task of the config file, not restricted
	slots       readSlots       // the agent's, shared by every task
	passGap     time.Duration   // the least time between two read passes of a file while lines stream in (see harvester.wait)
	limit       *harvesterLimit
	tm          *taskMetrics
	log         *slog.Logger

	firstRun bool // the task never ran on this host: start_position applies
	rescan   chan struct{}
	admitted chan struct{} // a waiting file got a harvester slot (see admit)

	mu         sync.Mutex
	harvesters map[fileID]*harvester
	reported   map[string]string // path → last problem logged, to log each once
	ready      []string          // files whose harvester slot is reserved, to start
	stopped    bool              // run returned: admit refuses
	wg         sync.WaitGroup
}

// admit hands a reserved harvester slot to the file at path, which waited
// for one; the task's loop starts it. It reports false once the task has
// stopped. Called by harvesterLimit with its lock held.
func (t *taskRunner) admit(path string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	t.ready = append(t.ready, path)
	select {
	case t.admitted <- struct{}{}:
	default:
	}
	return true
}

// stop refuses further slots and gives back those handed to files not
// started yet, and the task's place in the queue.
func (t *taskRunner) stop() {
	t.mu.Lock()
	t.stopped = true
	ready := t.ready
	t.ready = nil
	t.mu.Unlock()
	for range ready {
		t.limit.release()
	}
	t.limit.forget(t)
}

func (t *taskRunner) rescanSoon() {
	select {
	case t.rescan <- struct{}{}:
	default:
	}
}

func (t *taskRunner) run(ctx context.Context) {
	t.firstRun = !t.reg.knownTask(t.task.Path)
	scan := time.NewTicker(t.files.ScanFrequency.D())
	defer scan.Stop()
	t.scan(ctx)
	if t.firstRun {
		// Persist "this task has run here" and the end positions at once:
		// after a crash, start_position must not skip what came since.
		if err := t.reg.Save(); err != nil {
			t.log.Warn("cannot save the offset registry", "err", err)
		}
		t.firstRun = false
	}
	for {
		select {
		case <-ctx.Done():
			t.stop()
			t.wg.Wait()
			return
		case <-scan.C:
			t.scan(ctx)
		case <-t.rescan:
			t.scan(ctx)
		case <-t.admitted:
			t.mu.Lock()
			ready := t.ready
			t.ready = nil
			t.mu.Unlock()
			now := time.Now()
			for _, p := range ready {
				t.consider(ctx, p, now, true)
			}
		}
	}
}

// scan expands the glob and starts a harvester for each file that has
// unread data and no harvester yet. It is also the harvesters' stat pass:
// it wakes those whose file changed since they last looked, and those whose
// file it no longer finds at their path (renamed or deleted).
func (t *taskRunner) scan(ctx context.Context) {
	paths, err := filepath.Glob(t.task.Path)
	if err != nil { // validated earlier; cannot happen
		t.log.Error("glob", "err", err)
		return
	}
	now := time.Now()
	for _, p := range paths {
		if t.excluded(p) {
			continue
		}
		t.consider(ctx, p, now, false)
	}
	t.mu.Lock()
	for _, h := range t.harvesters {
		if h.seen != now {
			h.poke()
		}
	}
	t.mu.Unlock()
}

func (t *taskRunner) excluded(p string) bool {
	for _, g := range t.task.Exclude {
		if ok, _ := filepath.Match(g, p); ok {
			return true
		}
		if ok, _ := filepath.Match(g, filepath.Base(p)); ok {
			return true
		}
	}
	return false
}

// problem logs and counts a file that cannot be read, once per distinct
// problem, so a permanently unreadable file does not flood the log.
func (t *taskRunner) problem(p, msg string, err error) {
	text := msg
	if err != nil {
		text += ": " + err.Error()
	}
	t.mu.Lock()
	seen := t.reported[p] == text
	t.reported[p] = text
	t.mu.Unlock()
	if !seen {
		t.tm.fileErrors.Inc()
		t.log.Warn(msg, "path", p, "err", err)
	}
}

// consider starts a harvester for the file at path if it has unread data
// and none reads it yet, within the harvester limit: a file over the limit
// waits in its queue. reserved says that a slot of the limit is already the
// file's (it waited for it): consider gives it back if it starts nothing.
func (t *taskRunner) consider(ctx context.Context, p string, now time.Time, reserved bool) {
	slot := reserved
	defer func() {
		if slot {
			t.limit.release()
		}
	}()
	real, fi, err := statLogFile(p, t.policy)
	var outside *policyError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case errors.As(err, &outside):
		t.problem(p, "file outside files.allowed_paths, skipped", err)
		return
	case err != nil:
		t.problem(p, "cannot stat file", err)
		return
	}
	if !fi.Mode().IsRegular() {
		t.problem(p, "not a regular file, skipped", nil)
		return
	}
	id, ok := statID(fi)
	if !ok {
		return
	}
	e := t.reg.lookup(id)
	if e != nil {
		e.seen(now)
		e.size.Store(fi.Size())
	}
	t.mu.Lock()
	running, ok := t.harvesters[id]
	if ok && running.path == p {
		running.seen = now
	}
	t.mu.Unlock()
	if ok {
		if running.changedSince(fi) {
			running.poke()
		}
		return
	}
	// A known file read to its end and unchanged since is not opened again
	// (thousands of closed files would cost four system calls each per
	// scan), and over the limit, one read to its end does not wait in the
	// queue (its fingerprint is checked once it grows, or once there is room).
	if e != nil && e.unchangedSinceRead(lookOf(fi)) {
		return
	}
	if !slot && !t.limit.take(t, p, e == nil || e.committed() != fi.Size()) {
		return
	}
	slot = true
	f, err := openLogFile(real, t.policy != nil)
	if err != nil {
		t.problem(p, "cannot open file", err)
		return
	}
	start, e, ok := t.startOffset(f, p, id, now)
	if !ok {
		f.Close()
		return
	}
	if owner, ok := t.claims.claim(id, t.task.Path); !ok {
		f.Close()
		t.problem(p, "file already read by task "+owner, nil)
		return
	}
	h := &harvester{task: t, path: p, f: f, e: e, start: start, log: t.log.With("path", p, "file", id.String()),
		wake: make(chan struct{}, 1), seen: now, workDone: make(chan struct{}, 1)}
	h.work = h.slotWork
	t.mu.Lock()
	delete(t.reported, p)
	hctx, cancel := context.WithCancel(ctx)
	hctx.Done() // its channel made here too (see harvester.work)
	t.harvesters[id] = h
	t.mu.Unlock()

	h.log.Debug("harvester started", "offset", start)
	slot = false // the harvester's now, given back when it ends
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		h.run(hctx)
		cancel()
		t.ended(ctx, h)
	}()
}

// ended lets the file go once its harvester has ended: claim, harvester slot
// (or its place in the queue, if it gave way with lines left) and what
// follows from how it ended. Apart from run, so that the harvester's
// goroutine holds a small frame while it waits.
func (t *taskRunner) ended(ctx context.Context, h *harvester) {
	id, p, end, err := h.e.ID, h.path, h.loop.end, h.loop.err
	t.claims.release(id)
	t.mu.Lock()
	delete(t.harvesters, id)
	t.mu.Unlock()
	if end == endYield && h.unread {
		t.limit.requeue(t, p)
	} else {
		t.limit.release()
	}
	switch {
	case errors.Is(err, errSendFailed):
		h.log.Warn("records not acknowledged by Kafka; reading again from the committed offset", "offset", h.e.committed())
		t.retryLater(ctx)
	case err != nil:
		t.problem(p, "harvester stopped", err)
	case end == endGone:
		h.log.Debug("harvester finished: file rotated or deleted", "offset", h.lineEnd)
		t.rescanSoon()
	case end == endInactive:
		h.log.Debug("file inactive, closed", "offset", h.lineEnd)
	case end == endYield:
		h.log.Debug("file closed for files waiting for a harvester", "offset", h.lineEnd)
	}
}

// retryLater triggers a scan after a pause, so a failing send does not spin.
func (t *taskRunner) retryLater(ctx context.Context) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		select {
		case <-time.After(time.Second):
			t.rescanSoon()
		case <-ctx.Done():
		}
	}()
}

// startOffset decides where to read f from, using the registry: the committed
// offset of a known file (0 if it shrank: truncated while closed), nothing if
// a known file has no new data, and for a new file 0 or, on the task's first
// run with start_position end, its end.
func (t *taskRunner) startOffset(f *os.File, p string, id fileID, now time.Time) (int64, *entry, bool) {
	fi, err := f.Stat()
	if err != nil {
		t.problem(p, "cannot stat open file", err)
		return 0, nil, false
	}
	if got, _ := statID(fi); got != id { // replaced between stat and open
		return 0, nil, false
	}
	size := fi.Size()
	fpLen, fp, err := fingerprint(f, size)
	if err != nil {
		t.problem(p, "cannot read file", err)
		return 0, nil, false
	}
	e := t.reg.lookup(id)
	if e != nil && !e.matches(f, size) {
		t.log.Info("inode reused by a new file; reading it from the start", "path", p, "file", id.String())
		t.reg.remove(id)
		e = nil
	}
	var start int64
	if e != nil {
		start = e.committed()
		switch {
		case size < start:
			t.log.Info("file shrank below its committed offset (truncated); reading from the start", "path", p, "offset", start, "size", size)
			t.tm.filesTruncated.Inc()
			start = 0
			t.reg.renew(e)
		case size == start:
			e.readTo(lookOf(fi))
			return 0, nil, false
		}
	} else {
		if t.files.IgnoreOlder > 0 && now.Sub(fi.ModTime()) > t.files.IgnoreOlder.D() {
			return 0, nil, false
		}
		if t.firstRun && t.task.StartPosition != "beginning" {
			start = size
		}
		e = &entry{ID: id, Task: t.task.Path, acked: start}
		t.reg.renew(e)
		t.reg.put(e)
	}
	e.update(p, fpLen, fp, now)
	e.size.Store(size)
	return start, e, true
}

// claims makes sure one file is read by one harvester, even when two tasks'
// globs match it or a changed task restarts while the old one drains.
type claims struct {
	mu    sync.Mutex
	owner map[fileID]string
}

func (c *claims) claim(id fileID, task string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.owner[id]; ok {
		return o, false
	}
	c.owner[id] = task
	return task, true
}

func (c *claims) release(id fileID) {
	c.mu.Lock()
	delete(c.owner, id)
	c.mu.Unlock()
}
