package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/record"
)

// A harvester at the end of its file waits. It is woken by inotify, by the
// task's scan when the file's size, modification or change time differ from
// what the harvester last saw (or the scan no longer finds it at its path),
// and by its own timer: the deadlines of close_inactive, of a pending
// multiline or container event and of a renamed file, and, without an
// inotify watch on its file, a poll that doubles from minPoll to maxPoll
// while the file stays idle. A wake costs one fstat when nothing changed.
//
// A watched file whose lines Kafka has all acknowledged has no poll of its
// own: the task's scan, every scan_frequency, is its safety net (a write
// inotify did not report still changes the size and times the scan
// compares). A poll per harvester cost an idle agent a wake per open file
// every period, all in step since the files were read together (1,000 idle
// files: 0.25% of a core, 0.09% without). While lines wait for their
// acknowledgement, the harvester looks every unackedPoll whether a send
// failed: it then ends, and its file is read again from the committed
// offset.
const (
	minPoll     = 250 * time.Millisecond
	maxPoll     = 2 * time.Second
	unackedPoll = time.Second
	noPoll      = time.Duration(math.MaxInt64)
)

// A file that lines stream into is read in passes at least passGap apart
// (taskRunner.passGap): half of kafka.linger, at most maxPassGap. Records wait
// for the producer's linger anyway, so a pass that reads what a few writes
// appended instead of one pass per write (an inotify wake each) costs them
// at most passGap of latency, and saves the passes' system calls and the
// producer's smaller batches. streamWindow is how recent the last lines
// must be for a file to count as streaming: a wake after a quiet spell is
// read at once.
const (
	maxPassGap   = 5 * time.Millisecond
	streamWindow = time.Second
)

// passBudget is how many bytes a read pass reads at most before it gives its
// read slot back (see readSlots): a large backlog does not keep the other
// files from being read.
const passBudget = 4 << 20

// yieldPoll is how often a harvester that gives way looks whether Kafka has
// acknowledged its last lines.
const yieldPoll = 20 * time.Millisecond

// harvesterTurn is how long a harvester keeps its file open while other
// files wait for a harvester (files.max_open_files) and its own keeps
// growing; at its end of file, it gives way at once.
const harvesterTurn = 10 * time.Second

// errSendFailed ends a harvester whose records Kafka did not acknowledge; the
// file is read again from its committed offset.
var errSendFailed = errors.New("kafka did not acknowledge records")

// harvestEnd says why a harvester stopped.
type harvestEnd int

const (
	endCancelled harvestEnd = iota // task stopped or agent shutting down
	endInactive                    // idle for close_inactive: closed, reopened by a scan when it grows
	endGone                        // renamed or deleted, read to its end
	endYield                       // closed for a file waiting for a harvester (files.max_open_files)
)

// fileLook is what a harvester saw of its file at its last look: a change of
// any field is worth a read.
type fileLook struct {
	size, mtime, ctime int64
}

func lookOf(fi os.FileInfo) fileLook {
	l := fileLook{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		l.ctime = st.Ctim.Nano()
	}
	return l
}

// harvester reads one file, identified by device and inode, from a start
// offset and hands every event to the shipper. It owns its descriptor, so a
// renamed or deleted file is still read to its end, and it relies on the
// agent's inotify watcher (watch.go) to wake up when the file changes, with a
// poll as safety net (the task's scan for a watched file).
//
// Offsets: lines are read with exact byte offsets; an event's end offset is
// committed (entry.ack) only from Kafka's acknowledgement. An event dropped
// by the task's line filter is committed once every record sent before it
// is acknowledged (entry.skip).
type harvester struct {
	task  *taskRunner
	path  string
	f     *os.File
	e     *entry
	gen   uint64
	start int64
	log   *slog.Logger

	ctx      context.Context // run's context, for emit, which the joiner calls back
	lr       *lineReader
	joiner   *Joiner
	lineEnd  int64 // end offset of the last line read
	prevEnd  int64 // end offset of the last emitted event, filtered ones included: the next event's start
	key      []byte
	idPrefix []byte // "{epoch}-": an event's id is this plus its start offset
	err      error  // first shipping error, set by emit
	pathJSON []byte // path as a JSON string, for the encoder
	readTime []byte // read time of the current batch of lines, formatted
	arena    arena  // inflights and record values of the current read pass

	// readAt is readTime as a time: the records' Kafka timestamp.
	readAt time.Time

	// sentEnd is the end offset of the last event sent to Kafka, kept only
	// when the task filters lines (see entry.skip). Last, so that the hot
	// fields above keep their place.
	sentEnd int64

	// container joins the partial records of a container runtime before
	// the joiner (container.go); nil when the task has no
	// container_format. toJoiner is its output, bound once.
	container *containerJoiner
	toJoiner  func(Line)

	// wake (one pending at most) makes the harvester look at its file now:
	// the task's scan sends it when the file changed since looked, the
	// harvester's last look (under lookMu).
	wake   chan struct{}
	lookMu sync.Mutex
	looked fileLook
	seen   time.Time // the last scan that found the file at path, under task.mu

	unread bool // it gave way (endYield) with lines left to read

	loop harvestLoop // run's, between two looks at the file
	// work is slotWork, and workDone its end (see readSlots.run): made
	// with the harvester, so that its goroutine allocates nothing.
	work     func()
	workDone chan struct{}
}

// poke wakes the harvester, unless a wake is pending already.
func (h *harvester) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// changedSince reports whether fi differs from the harvester's last look.
func (h *harvester) changedSince(fi os.FileInfo) bool {
	h.lookMu.Lock()
	defer h.lookMu.Unlock()
	return h.looked != lookOf(fi)
}

// run reads the file until the harvester ends, and leaves how (loop.end) and
// why (loop.err, nil if it just ended) in h.loop.
func (h *harvester) run(ctx context.Context) {
	l := &h.loop
	h.ctx = ctx
	h.task.tm.filesOpen.Inc()
	defer h.close()
	for {
		if h.task.slots.run(ctx, h.work, h.workDone) != nil {
			break
		}
		if l.done {
			return
		}
		if !h.wait(ctx) {
			break
		}
	}
	l.end, l.err = endCancelled, nil
}

// slotWork is what run has a read slot's worker do: begin, the first time,
// then a step.
func (h *harvester) slotWork() {
	l := &h.loop
	if !l.begun {
		l.begun = true
		if err := h.begin(); err != nil {
			l.end, l.done, l.err = endCancelled, true, h.shipErr(h.ctx, err)
			return
		}
	}
	l.end, l.done, l.err = h.step(h.ctx)
}

// harvestLoop is what run's loop carries from one look at the file to the
// next, from one step to the next.
//
// A step (a look at the file, a read pass, a flush) runs in a read slot, on
// a worker (readSlots): the harvester's goroutine only waits, and allocates
// nothing. A harvester mostly waits, and its goroutine's stack is sized by
// the deepest call it ever made, for good: a system call, the encoder, the
// logger or one of the allocator's slow paths would each grow it from 2 to
// 4 KiB (measured with 1,000 idle files: stacks 6.9 MiB, 4.9 MiB since).
// What the goroutine runs (run, wait, readSlots.run, the closure that
// starts it) keeps small frames for that reason.
type harvestLoop struct {
	begun bool
	// what the last step decided: the harvester ends (done), how and why
	done bool
	end  harvestEnd
	err  error

	changed <-chan struct{} // the inotify watch's wakes (nil: polled)
	unwatch func()
	timer   *time.Timer

	watched, renamed, woken, yield, skipped, more bool

	n            int      // lines read by the last pass
	looked       fileLook // the last look at the file
	poll         time.Duration
	wait         time.Duration // until the next look, without a wake
	lastActivity time.Time     // the last pass that read lines, or the start
	opened       time.Time
	lastRead     time.Time // the start of the last pass that read lines
}

// begin sets the harvester up to read from its start offset, saves the
// file's epoch and watches the file. It runs in a read slot, as step does.
func (h *harvester) begin() error {
	t := h.task
	if _, err := h.f.Seek(h.start, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s to %d: %w", h.path, h.start, err)
	}
	h.gen = h.e.begin(h.start)
	h.lr = newLineReader(h.f, h.start, t.task.MaxLineBytes)
	h.joiner = NewJoiner(t.task.Multiline, t.task.MaxLineBytes)
	if h.container = newContainerJoiner(t.task.ContainerFormat, t.task.MaxLineBytes); h.container != nil {
		h.toJoiner = func(l Line) { h.joiner.Add(l, h.emit) }
	}
	h.lineEnd, h.prevEnd, h.sentEnd = h.start, h.start, h.start
	h.key = []byte(h.e.ID.String())
	h.pathJSON = record.AppendJSONString(nil, []byte(h.path))
	h.persistEpoch()

	l := &h.loop
	changed, unwatch, err := t.watcher.watch(h.path)
	if l.watched = err == nil; l.watched {
		l.changed, l.unwatch = changed, unwatch
	} else {
		h.log.Debug("no inotify watch, polling", "err", err)
	}
	l.timer = time.NewTimer(minPoll)
	l.poll = minPoll
	l.lastActivity = time.Now()
	l.opened = l.lastActivity
	l.woken = true
	return nil
}

// close ends what run and begin started.
func (h *harvester) close() {
	if h.loop.unwatch != nil {
		h.loop.unwatch()
	}
	if h.loop.timer != nil {
		h.loop.timer.Stop()
	}
	h.f.Close()
	h.task.tm.filesOpen.Dec()
}

// step looks at the file, reads what it may have gained, ships what waited
// too long and decides whether the harvester ends (done) and, if not, how
// long it waits for a wake (loop.wait; none while loop.more). It runs in a
// read slot (see harvestLoop).
func (h *harvester) step(ctx context.Context) (end harvestEnd, done bool, err error) {
	t, l := h.task, &h.loop
	// A pass reads when something may have changed: a wake, a pass
	// that read lines or stopped at its budget, or a new look.
	// fresh says there may be new lines. A pass that read some is
	// followed by one more look, which is not evidence of new lines,
	// when the file is polled (lines written during the pass would
	// otherwise wait for the poll) or its fingerprint is still short
	// (extended as soon as the lines are read): with an inotify
	// watch, a write during the pass has left a wake pending.
	fresh := l.woken || l.more || l.skipped
	check := fresh || (l.n > 0 && (!l.watched || l.renamed || h.fingerprintShort()))
	size := int64(-1) // unknown if the look fails
	if fi, err := h.f.Stat(); err == nil {
		if lk := lookOf(fi); lk != l.looked {
			fresh, check, l.looked = true, true, lk
			h.lookMu.Lock()
			h.looked = lk
			h.lookMu.Unlock()
		}
		size = fi.Size()
		if check {
			h.e.size.Store(size)
		}
	}
	l.n, l.more = 0, false
	l.skipped = fresh && l.yield // read once the harvester no longer gives way, or by the next one
	if check && !l.yield {
		passAt := time.Now()
		l.n, l.more, err = h.pass(ctx, size)
		if l.n > 0 {
			l.lastRead = passAt
		}
		if err != nil {
			if ctx.Err() != nil {
				return endCancelled, true, nil
			}
			return endCancelled, true, err
		}
	}
	now := time.Now()
	if l.n > 0 {
		l.lastActivity = now
		l.poll = minPoll
	} else if !l.more {
		l.poll = min(2*l.poll, maxPoll)
	}
	if h.e.isFailed(h.gen) {
		return endCancelled, true, errSendFailed
	}
	if h.container != nil && h.container.Pending() && now.Sub(l.lastActivity) >= containerFlushTimeout {
		// A partial record whose rest did not come: shipped as it is
		// (to multiline, which has its own timeout).
		if err := h.ship(func() { h.container.Flush(h.toJoiner) }); err != nil {
			return endCancelled, true, h.shipErr(ctx, err)
		}
	}
	ml := t.task.Multiline
	if ml != nil && h.joiner.Pending() && now.Sub(l.lastActivity) >= ml.Timeout.D() {
		// Only the multiline event: a partial container record
		// waits for its own timeout.
		if err := h.ship(func() { h.joiner.Flush(h.emit) }); err != nil {
			return endCancelled, true, h.shipErr(ctx, err)
		}
	}
	if check && !l.renamed && !h.samePath() {
		l.renamed = true
		h.log.Debug("file renamed or deleted; reading it to its end")
		t.rescanSoon()
	}
	pending := h.joiner.Pending() || (h.container != nil && h.container.Pending())
	idle := now.Sub(l.lastActivity)
	switch {
	case l.renamed && idle >= min(t.files.CloseInactive.D(), renamedIdle):
		if err := h.finish(ctx); err != nil {
			return endCancelled, true, err
		}
		return endGone, true, nil
	case !l.renamed && idle >= t.files.CloseInactive.D() && !pending:
		return endInactive, true, nil
	}
	// Files wait for a harvester: give way at the end of the file, or
	// after a turn, once every line read is acknowledged (closing
	// earlier would read the unacknowledged ones again).
	l.yield = !l.renamed && !pending && t.limit.waiting() && (!l.more || now.Sub(l.opened) >= harvesterTurn)
	if l.yield && h.e.committed() >= h.lineEnd {
		h.unread = l.more || l.skipped
		return endYield, true, nil
	}

	l.woken = false
	if l.more {
		return endCancelled, false, nil // not done: end does not count
	}
	l.wait = l.poll
	switch {
	case l.yield:
		l.wait = yieldPoll
	case l.watched && !l.renamed && h.e.committed() < h.lineEnd:
		l.wait = unackedPoll
	case l.watched && !l.renamed:
		l.wait = noPoll
	}
	// The deadlines still ahead.
	for _, d := range []time.Duration{
		t.files.CloseInactive.D() - idle,
		h.pendingDeadline(ml != nil && h.joiner.Pending(), ml, idle),
	} {
		if d > 0 {
			l.wait = min(l.wait, d)
		}
	}
	return endCancelled, false, nil
}

// wait waits for what the last step decided: nothing while loop.more, else
// a wake, a change of the watched file or loop.wait. A pass woken while
// lines stream in (the last pass that read lines started less than
// streamWindow ago) waits until passGap after that pass, so that it reads
// what the writes of that time appended; the wakes that come meanwhile are
// taken: the pass reads their lines. It reports false if ctx ends first.
func (h *harvester) wait(ctx context.Context) bool {
	l := &h.loop
	if l.more {
		return ctx.Err() == nil
	}
	l.timer.Reset(l.wait)
	select {
	case <-ctx.Done():
		return false
	case <-l.changed:
	case <-h.wake:
	case <-l.timer.C:
		return true
	}
	l.woken = true
	gap := h.task.passGap
	if gap <= 0 || time.Since(l.lastRead) >= streamWindow {
		return true
	}
	d := time.Until(l.lastRead.Add(gap))
	if d <= 0 {
		return true
	}
	l.timer.Reset(d)
	select {
	case <-ctx.Done():
		return false
	case <-l.timer.C:
	}
	select {
	case <-l.changed:
	default:
	}
	select {
	case <-h.wake:
	default:
	}
	return true
}

// fingerprintShort reports whether the file's fingerprint covers less than
// what has been read of it, up to fingerprintMax (see wasTruncated).
func (h *harvester) fingerprintShort() bool {
	fpLen, _ := h.e.fingerprint()
	return int64(fpLen) < min(h.lr.offset, fingerprintMax)
}

// pendingDeadline is how long until a pending container record or multiline
// event (multiline says whether one is pending) is flushed by its timeout,
// idle being the time since the last line; 0 if none is pending.
func (h *harvester) pendingDeadline(multiline bool, ml *collect.Multiline, idle time.Duration) time.Duration {
	var d time.Duration
	if h.container != nil && h.container.Pending() {
		d = containerFlushTimeout - idle
	}
	if multiline {
		if m := ml.Timeout.D() - idle; d <= 0 || (m > 0 && m < d) {
			d = m
		}
	}
	return d
}

// renamedIdle is how long a renamed or deleted file must stay idle before its
// harvester finishes: writers that still hold the old file (logrotate without
// copytruncate, before the application reopens its log) keep being read.
const renamedIdle = 5 * time.Second

// samePath reports whether the harvester's path still names its file.
func (h *harvester) samePath() bool {
	fi, err := os.Stat(h.path)
	if err != nil {
		return false
	}
	id, ok := statID(fi)
	return ok && id == h.e.ID
}

// pass ships the complete lines up to the end of the file, in one read
// pass. A pass stops after passBudget bytes; more then reports that the file
// has more lines.
//
// size is the file's size at the look that decided the pass (-1 if
// unknown). The pass checks for a truncation (copytruncate) first, then
// reads.
func (h *harvester) pass(ctx context.Context, size int64) (n int, more bool, err error) {
	if h.wasTruncated(size) {
		if err := h.truncated(size); err != nil {
			return 0, false, err
		}
	}
	return h.readPass(ctx)
}

// readPass is pass's read: it reads with a lent buffer and gives it
// back at the end, with the pass's arena.
func (h *harvester) readPass(ctx context.Context) (n int, more bool, err error) {
	readPassCount.Add(1)
	defer h.arena.reset()
	defer func() {
		if rerr := h.lr.release(); rerr != nil && err == nil {
			err = fmt.Errorf("read %s: %w", h.path, rerr)
		}
	}()
	tm := h.task.tm
	from := h.lr.offset
	h.arena.expect(h.e.size.Load() - from)
	h.readAt = time.Now()
	h.readTime = appendTime(h.readTime[:0], h.readAt)
	for {
		line, end, truncated, err := h.lr.next()
		if errors.Is(err, io.EOF) {
			return n, false, nil
		}
		if err != nil {
			tm.fileErrors.Inc()
			return n, false, fmt.Errorf("read %s: %w", h.path, err)
		}
		if err := h.add(line, end, truncated); err != nil {
			return n, false, err
		}
		n++
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return n, false, err
			}
			if h.e.isFailed(h.gen) {
				return n, false, nil
			}
			if h.lr.offset-from >= passBudget {
				return n, true, nil
			}
			h.readAt = time.Now()
			h.readTime = appendTime(h.readTime[:0], h.readAt)
		}
	}
}

func (h *harvester) add(line []byte, end int64, truncated bool) error {
	tm := h.task.tm
	tm.linesRead.Inc()
	tm.bytesRead.Add(float64(end - h.lineEnd))
	h.lineEnd = end
	if truncated {
		tm.linesTruncated.Inc()
	}
	h.e.read.Store(end)
	l := Line{Text: line, Offset: end, Truncated: truncated}
	if h.container != nil {
		h.container.Add(l, h.toJoiner)
		return h.err
	}
	h.joiner.Add(l, h.emit)
	return h.err
}

// ship runs send, which hands events to the shipper outside a read pass
// (a flush, a file's last line), and reports the first shipping error. The
// records are sent now: their Kafka timestamp is now.
func (h *harvester) ship(send func()) error {
	defer h.arena.reset()
	h.readAt = time.Now()
	send()
	return h.err
}

// shipErr is the error a harvester ends with when ship failed: none if ctx
// ended (the agent or the task stops).
func (h *harvester) shipErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// flushPending ships the pending multiline event and partial container
// record.
func (h *harvester) flushPending() {
	if h.container != nil {
		h.container.Flush(h.toJoiner)
	}
	h.joiner.Flush(h.emit)
}

// finish ships the unterminated last line of a file that will not grow again.
func (h *harvester) finish(ctx context.Context) error {
	for more := true; more; {
		fi, err := h.f.Stat()
		if err != nil {
			return fmt.Errorf("stat %s: %w", h.path, err)
		}
		if _, more, err = h.pass(ctx, fi.Size()); err != nil {
			return err
		}
	}
	return h.ship(func() {
		if line, end, truncated, ok := h.lr.partial(); ok && h.add(line, end, truncated) != nil {
			return
		}
		h.flushPending()
	})
}

// wasTruncated reports whether the file was truncated under the harvester:
// it is shorter than the read offset, or (when it has already grown back
// past it) its first bytes no longer match the fingerprint. If not, the
// fingerprint is extended to the file's size (see extendFingerprint). A
// size of -1 (unknown) leaves the fingerprint alone.
func (h *harvester) wasTruncated(size int64) bool {
	if (size >= 0 && size < h.lr.offset) || h.fingerprintChanged() {
		return true
	}
	h.extendFingerprint(size)
	return false
}

// fingerprintChanged reports whether the file's first bytes no longer match
// its fingerprint.
func (h *harvester) fingerprintChanged() bool {
	fpLen, fp := h.e.fingerprint()
	if fpLen == 0 {
		return false
	}
	_, got, err := fingerprint(h.f, int64(fpLen))
	return err == nil && got != fp
}

// extendFingerprint fingerprints the file's first size bytes (at most
// fingerprintMax) if the fingerprint covers less. size may be past what has
// been read: the bytes are the file's all the same, and fingerprinted before
// the pass that reads them, they cannot be those of lines written after a
// copytruncate during the pass.
func (h *harvester) extendFingerprint(size int64) {
	fpLen, _ := h.e.fingerprint()
	if want := min(size, fingerprintMax); int64(fpLen) < want {
		if n, got, err := fingerprint(h.f, want); err == nil {
			h.e.update(h.path, n, got, time.Now())
		}
	}
}

// truncated handles a file cut below the read offset (copytruncate), in a
// read pass's slot: what was read is shipped, and reading starts again at 0
// in a new generation.
func (h *harvester) truncated(size int64) error {
	h.log.Info("file truncated, reading from the start", "offset", h.lr.offset, "size", size)
	h.task.tm.filesTruncated.Inc()
	if err := h.ship(h.flushPending); err != nil {
		return err
	}
	if _, err := h.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", h.path, err)
	}
	h.gen = h.e.begin(0)
	h.task.reg.renew(h.e)
	h.persistEpoch()
	if size < 0 {
		size = fingerprintMax
	}
	// The file's first bytes are new: fingerprint them now, before the next
	// truncation could replace them (a fingerprint taken later could
	// describe newer content than what is being read, and hide that
	// truncation).
	n, fp, err := fingerprint(h.f, size)
	if err != nil {
		return fmt.Errorf("read %s: %w", h.path, err)
	}
	h.e.setFingerprint(n, fp)
	h.lr = newLineReader(h.f, 0, h.task.task.MaxLineBytes)
	h.lineEnd, h.prevEnd, h.sentEnd = 0, 0, 0
	return nil
}

// persistEpoch takes the file's current epoch for the ids of the events to
// come and makes sure it is on disk first, so that lines re-sent after a
// crash get the ids they had. If the registry cannot be written, lines are
// shipped anyway: a crash could then duplicate them, not lose them.
func (h *harvester) persistEpoch() {
	h.idPrefix = append(append(h.idPrefix[:0], h.e.currentEpoch()...), '-')
	if err := h.task.reg.persist(h.e); err != nil {
		h.log.Warn("cannot save the offset registry before reading; lines re-sent after a crash would get new ids", "err", err)
	}
}

// emit encodes an event and hands it to Kafka, unless the task's line filter
// drops it. It waits while the in-flight limit is reached: that wait is the
// backpressure that pauses reading.
func (h *harvester) emit(ev Event) {
	if h.err != nil {
		return
	}
	t := h.task
	start := h.prevEnd // a filtered event moves it too: ids are the events' own start offsets
	h.prevEnd = ev.Offset
	if t.filter != nil {
		if !t.filter.keep(ev.Text) {
			t.tm.linesFiltered.Add(float64(ev.Lines))
			h.e.skip(h.gen, h.sentEnd, ev.Offset)
			return
		}
		h.sentEnd = ev.Offset
	}
	val := t.enc.encode(h.arena.value(len(ev.Text)+t.encOverhead), ev, h.pathJSON, h.readTime, start)
	for len(val) > maxRecordBytes && len(ev.Text) > 0 {
		// Escaping grew the record past what Kafka accepts: cut the
		// message in proportion and flag it.
		ev.Text = ev.Text[:len(ev.Text)*9/10*maxRecordBytes/len(val)]
		ev.Truncated = true
		val = t.enc.encode(val[:0], ev, h.pathJSON, h.readTime, start)
	}
	in := h.arena.next()
	in.rec = kgo.Record{Topic: t.task.Topic, Key: h.key, Value: h.arena.used(val), Timestamp: h.readAt}
	id := h.arena.used(strconv.AppendInt(append(h.arena.value(len(h.idPrefix)+20), h.idPrefix...), start, 10))
	in.hdr[0] = kgo.RecordHeader{Key: record.IDHeader, Value: id}
	in.rec.Headers = in.hdr[:]
	in.tm, in.e, in.gen, in.end = t.tm, h.e, h.gen, ev.Offset
	h.err = t.ship.send(h.ctx, in)
}
