package agent

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// fileWatcher wakes harvesters when their file changes, through one inotify
// instance (fsnotify) shared by the agent. It only wakes: it never stats the
// paths, since a harvester looks at its own descriptor, so a path replaced by
// a directory, a dangling symlink or anything else cannot hurt it. (nxadm/tail's
// watcher, used before, called os.Exit when such a stat failed with anything
// but ENOENT.) Its methods are safe for concurrent use.
type fileWatcher struct {
	w    *fsnotify.Watcher
	log  *slog.Logger
	done chan struct{} // closed when run has returned

	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{} // cleaned path → wake channels
}

// newFileWatcher opens the inotify instance and starts delivering its events;
// close stops it. It fails when inotify is unavailable (no instance left for
// the user, not Linux): harvesters then poll.
func newFileWatcher(log *slog.Logger) (*fileWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	fw := &fileWatcher{w: w, log: log, done: make(chan struct{}), subs: make(map[string]map[chan struct{}]struct{})}
	go fw.run()
	return fw, nil
}

func (fw *fileWatcher) run() {
	defer close(fw.done)
	for {
		select {
		case ev, ok := <-fw.w.Events:
			if !ok {
				return
			}
			fw.mu.Lock()
			for c := range fw.subs[filepath.Clean(ev.Name)] {
				select {
				case c <- struct{}{}:
				default: // a wake is already pending
				}
			}
			fw.mu.Unlock()
		case err, ok := <-fw.w.Errors:
			if !ok {
				return
			}
			// An overflowed queue loses events; the harvesters' poll covers it.
			fw.log.Debug("inotify", "err", err)
		}
	}
}

// watch returns a channel that receives a value (at most one pending) when
// path changes, and a function that ends the watch. A nil fileWatcher, or a
// path that cannot be watched, returns an error: the caller polls.
func (fw *fileWatcher) watch(path string) (<-chan struct{}, func(), error) {
	if fw == nil {
		return nil, nil, fmt.Errorf("watch %s: no inotify", path)
	}
	path = filepath.Clean(path)
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if len(fw.subs[path]) == 0 {
		if err := fw.w.Add(path); err != nil {
			return nil, nil, fmt.Errorf("watch %s: %w", path, err)
		}
		fw.subs[path] = make(map[chan struct{}]struct{})
	}
	c := make(chan struct{}, 1)
	fw.subs[path][c] = struct{}{}
	return c, func() { fw.unwatch(path, c) }, nil
}

func (fw *fileWatcher) unwatch(path string, c chan struct{}) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	delete(fw.subs[path], c)
	if len(fw.subs[path]) == 0 {
		delete(fw.subs, path)
		// The kernel drops the watch of a deleted file by itself: Remove
		// then fails, which is fine.
		_ = fw.w.Remove(path)
	}
}

// close stops the watcher and waits for its goroutine.
func (fw *fileWatcher) close() {
	if fw == nil {
		return
	}
	_ = fw.w.Close()
	<-fw.done
}
