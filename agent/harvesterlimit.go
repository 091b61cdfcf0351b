package agent

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// readSlots bounds the read passes that run at once, across every task: a
// pass holds a lent read buffer and an arena block, so memory follows the
// files being read, not the files open. Passes are short (passBudget), and
// a slot is taken in the order the harvesters asked (a channel's waiters are
// served first in, first out).
//
// The passes, and everything else a harvester does but wait (its steps: a
// look at the file, a flush, its start), run on the slots' own workers, one
// per slot (see run): their calls go deep (system calls, joining, encoding,
// the producer, the logger), and a goroutine keeps the stack it grew to
// (the collector halves a stack only while what is in use, plus 800 bytes,
// is under a quarter of it). Made on the harvesters' own goroutines, passes left
// a pass-sized stack on every open file, read or idle; on a goroutine per
// pass, that stack was grown again at every pass. The workers keep theirs,
// and a waiting harvester keeps the least a goroutine has, 2 KiB.
type readSlots struct {
	slot   chan struct{} // a token per pass running
	passes chan readPass // to the workers
}

type readPass struct {
	run  func()
	done chan<- struct{}
}

func newReadSlots(n int) readSlots {
	return readSlots{slot: make(chan struct{}, n), passes: make(chan readPass)}
}

// readPasses is how many read passes run at once: enough to keep the cores
// and the producer busy, few enough that their buffers stay a fixed base.
func readPasses() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// work starts the workers; stop ends them once no pass can be asked for any
// more (the tasks have stopped).
func (s readSlots) work() (stop func()) {
	var wg sync.WaitGroup
	for range cap(s.slot) {
		wg.Go(func() {
			for p := range s.passes {
				p.run()
				p.done <- struct{}{}
			}
		})
	}
	return func() {
		close(s.passes)
		wg.Wait()
	}
}

// run waits for a slot, then has a worker run pass and waits for it to
// return, told on done: the caller's own channel, with room for one value,
// reused from pass to pass (a harvester allocates nothing while it waits:
// an allocation can take the allocator's deep paths, which would grow its
// goroutine's stack for good). It reports ctx's error if ctx ends before a
// slot is free (pass then does not run).
func (s readSlots) run(ctx context.Context, pass func(), done chan struct{}) error {
	select {
	case s.slot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.passes <- readPass{run: pass, done: done} // a worker is free: there is one per slot
	<-done
	<-s.slot
	return nil
}

// defaultMaxOpenFiles is files.max_open_files when unset: half of the
// process's open-file limit (ulimit -n; the Go runtime raises the soft limit
// to the hard one at start), at most maxOpenFilesAuto, at least 1.
func defaultMaxOpenFiles() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return maxOpenFilesAuto
	}
	return int(max(1, min(rl.Cur/2, maxOpenFilesAuto)))
}

const maxOpenFilesAuto = 4096

// harvesterLimit bounds the harvesters, so the open files, of every task
// (files.max_open_files). A file found while the limit is reached waits in a
// queue, first in first out, and loses nothing: its offset stays where
// Kafka's acknowledgements left it. A harvester that ends hands its slot to
// the first file waiting; while files wait, a harvester gives way at the
// end of its file or after harvesterTurn (see harvester.run), once its lines
// are acknowledged, and goes back to the end of the queue if its file has
// more: every file gets its turn.
type harvesterLimit struct {
	max int
	m   *Metrics
	log *slog.Logger

	mu       sync.Mutex
	open     int // harvesters running or starting, slots handed to waiters included
	queue    []waitingFile
	queued   map[waitingFile]bool
	warnedAt time.Time
}

// waitingFile is a file found by a task's scan, waiting for a harvester.
type waitingFile struct {
	t    *taskRunner
	path string
}

func newHarvesterLimit(max int, m *Metrics, log *slog.Logger) *harvesterLimit {
	return &harvesterLimit{max: max, m: m, log: log, queued: make(map[waitingFile]bool)}
}

// limitWarnEvery is how often at most the limit's warning is logged.
const limitWarnEvery = time.Minute

// take reserves a slot for the file at path of task t, or reports false
// and, if unread says the file has lines to read, queues it (once). A queued
// file is started by its task (admit) when a slot is handed to it.
func (l *harvesterLimit) take(t *taskRunner, path string, unread bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open < l.max && len(l.queue) == 0 {
		l.open++
		return true
	}
	w := waitingFile{t: t, path: path}
	if !unread || l.queued[w] {
		return false
	}
	l.queue = append(l.queue, w)
	l.queued[w] = true
	l.m.FilesWaiting.Set(float64(len(l.queue)))
	l.m.HarvesterLimitReached.Inc()
	if now := time.Now(); now.Sub(l.warnedAt) >= limitWarnEvery {
		l.warnedAt = now
		l.log.Warn("files.max_open_files reached: files wait for a harvester, in turn",
			"max_open_files", l.max, "waiting", len(l.queue), "path", path)
	}
	return false
}

// release gives a slot back: to the first file waiting whose task still
// runs, or to the pool.
func (l *harvesterLimit) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handOver()
}

// requeue gives a slot back and queues path again, behind the files waiting
// (it is started again when its turn comes): a harvester that gave way with
// more to read.
func (l *harvesterLimit) requeue(t *taskRunner, path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := (waitingFile{t: t, path: path}); !l.queued[w] {
		l.queue = append(l.queue, w)
		l.queued[w] = true
	}
	l.handOver()
}

// handOver passes a freed slot to the first file waiting whose task still
// runs, or back to the pool. l.mu is held.
func (l *harvesterLimit) handOver() {
	defer func() { l.m.FilesWaiting.Set(float64(len(l.queue))) }()
	for len(l.queue) > 0 {
		w := l.queue[0]
		l.queue[0] = waitingFile{}
		l.queue = l.queue[1:]
		delete(l.queued, w)
		if w.t.admit(w.path) {
			return // the slot is the waiter's now
		}
	}
	l.open--
}

// waiting reports whether files wait for a harvester.
func (l *harvesterLimit) waiting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue) > 0
}

// forget drops the waiting files of task t, which stopped.
func (l *harvesterLimit) forget(t *taskRunner) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.queue[:0]
	for _, w := range l.queue {
		if w.t == t {
			delete(l.queued, w)
			continue
		}
		kept = append(kept, w)
	}
	clear(l.queue[len(kept):])
	l.queue = kept
	l.m.FilesWaiting.Set(float64(len(l.queue)))
}
