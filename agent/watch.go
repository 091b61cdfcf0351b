package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// fileWatcher wakes harvesters when their file changes: one inotify instance
// (an fsnotify.Watcher) for the process and one goroutine that reads its
// events and hands each path's to the harvesters waiting on it, whatever
// the number of files. A harvester looks at its own descriptor, so a wake
// is all it needs.
//
// It replaces nxadm/tail's inotify tracker (tail/watch), which the agent
// used until it had to keep its memory per open file within 16 KiB (issue
// 21): the tracker hands each path's events to a channel of its own that it
// blocks on, so every watched path needed a goroutine of ours taking them
// (~5 KiB of stack per open file, a second goroutine per harvester), it
// exits the process when it cannot create its inotify instance, and
// nxadm/tail's FileWatchers on top of it call os.Exit when a stat of the
// path fails with anything but ENOENT (a path replaced by a directory or a
// dangling symlink would kill the agent). The tracker itself is a thin layer
// over fsnotify, the library used here directly, so the events are the same.
//
// A path is watched once, however many harvesters wait on it (a renamed
// file and its successor). When the kernel's event queue overflows, every
// harvester is woken: events were lost. Its methods are safe for concurrent
// use.
type fileWatcher struct {
	log  *slog.Logger
	w    *fsnotify.Watcher
	done chan struct{} // closed when the dispatch goroutine has returned

	track sync.Mutex                            // serialises Add/Remove with the first/last subscriber of a path
	mu    sync.Mutex                            // guards subs
	subs  map[string]map[chan struct{}]struct{} // cleaned path → wake channels
}

// newFileWatcher returns a watcher, or an error when inotify is unavailable
// (no instance left for the user, not Linux): harvesters then poll.
func newFileWatcher(log *slog.Logger) (*fileWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	fw := &fileWatcher{log: log, w: w, done: make(chan struct{}), subs: make(map[string]map[chan struct{}]struct{})}
	go fw.dispatch()
	return fw, nil
}

// watch returns a channel that receives a value (at most one pending) when
// path changes, and a function that ends the watch. A nil fileWatcher, or a
// path that cannot be watched, returns an error: the caller polls.
func (fw *fileWatcher) watch(path string) (<-chan struct{}, func(), error) {
	if fw == nil {
		return nil, nil, fmt.Errorf("watch %s: no inotify", path)
	}
	path = filepath.Clean(path)
	fw.track.Lock()
	defer fw.track.Unlock()
	fw.mu.Lock()
	first := len(fw.subs[path]) == 0
	fw.mu.Unlock()
	if first {
		if err := fw.w.Add(path); err != nil {
			return nil, nil, fmt.Errorf("watch %s: %w", path, err)
		}
	}
	c := make(chan struct{}, 1)
	fw.mu.Lock()
	if fw.subs[path] == nil {
		fw.subs[path] = make(map[chan struct{}]struct{})
	}
	fw.subs[path][c] = struct{}{}
	fw.mu.Unlock()
	return c, func() { fw.unwatch(path, c) }, nil
}

// dispatch turns events into wakes until the watcher is closed.
func (fw *fileWatcher) dispatch() {
	defer close(fw.done)
	for {
		select {
		case ev, ok := <-fw.w.Events:
			if !ok {
				return
			}
			fw.wake(filepath.Clean(ev.Name))
		case err, ok := <-fw.w.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				fw.log.Warn("inotify queue overflowed; waking every harvester", "err", err)
				fw.wakeAll()
				continue
			}
			fw.log.Warn("inotify", "err", err)
		}
	}
}

func (fw *fileWatcher) wake(path string) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	for c := range fw.subs[path] {
		poke(c)
	}
}

func (fw *fileWatcher) wakeAll() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	for _, subs := range fw.subs {
		for c := range subs {
			poke(c)
		}
	}
}

// poke sends a wake on c unless one is pending already.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (fw *fileWatcher) unwatch(path string, c chan struct{}) {
	fw.track.Lock()
	defer fw.track.Unlock()
	fw.mu.Lock()
	delete(fw.subs[path], c)
	last := len(fw.subs[path]) == 0
	if last {
		delete(fw.subs, path)
	}
	fw.mu.Unlock()
	if last {
		// The kernel drops the watch of a deleted file by itself, and
		// fsnotify with it; Remove then fails, which is fine.
		_ = fw.w.Remove(path)
	}
}

// close ends every watch and waits for the dispatch goroutine.
func (fw *fileWatcher) close() {
	if fw == nil {
		return
	}
	fw.track.Lock()
	_ = fw.w.Close() // closes Events and Errors: dispatch returns
	fw.mu.Lock()
	clear(fw.subs)
	fw.mu.Unlock()
	fw.track.Unlock()
	<-fw.done
}
