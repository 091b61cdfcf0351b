package agent

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
	tailwatch "github.com/nxadm/tail/watch"
)

// fileWatcher wakes harvesters when their file changes, through nxadm/tail's
// inotify tracker: one inotify instance for the process, shared by every
// harvester. It uses only the tracker's wake-only API (Watch, Events,
// RemoveWatch), never nxadm/tail's FileWatchers, which stat the path on each
// event and call os.Exit when that stat fails with anything but ENOENT: a
// path replaced by a directory or a dangling symlink would kill the agent.
// A harvester looks at its own descriptor, so a wake is all it needs.
//
// It also covers the tracker's other sharp edges:
//   - the tracker exits the process if it cannot create its inotify
//     instance; newFileWatcher first checks that one can be created (no
//     instance left for the user, not Linux) and the harvesters poll if not;
//   - the tracker keeps one events channel per path and closes it on the
//     first RemoveWatch, so each path is watched here once, however many
//     harvesters wait on it;
//   - the tracker blocks until an event is taken, so a pump per path takes
//     them at once and turns them into pending wakes, and the tracker is
//     never called with mu held (a pump may be waiting for mu).
//
// The tracker is process-wide, so a process has one fileWatcher (Agent.Run
// makes it): two watching the same path would share, and split, the path's
// events. Its methods are safe for concurrent use.
type fileWatcher struct {
	log   *slog.Logger
	pumps sync.WaitGroup

	track sync.Mutex                            // serialises the tracker calls and the first/last subscriber of a path
	mu    sync.Mutex                            // guards subs
	subs  map[string]map[chan struct{}]struct{} // cleaned path → wake channels
}

// newFileWatcher returns a watcher, or an error when inotify is unavailable:
// harvesters then poll.
func newFileWatcher(log *slog.Logger) (*fileWatcher, error) {
	probe, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	_ = probe.Close()
	return &fileWatcher{log: log, subs: make(map[string]map[chan struct{}]struct{})}, nil
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
		if err := tailwatch.Watch(path); err != nil {
			return nil, nil, fmt.Errorf("watch %s: %w", path, err)
		}
		events := tailwatch.Events(path)
		fw.pumps.Add(1)
		go fw.pump(path, events)
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

// pump turns the tracker's events for path into wakes until RemoveWatch
// closes the channel.
func (fw *fileWatcher) pump(path string, events <-chan fsnotify.Event) {
	defer fw.pumps.Done()
	for range events {
		fw.mu.Lock()
		for c := range fw.subs[path] {
			select {
			case c <- struct{}{}:
			default: // a wake is already pending
			}
		}
		fw.mu.Unlock()
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
		// The kernel drops the watch of a deleted file by itself; the
		// tracker's Remove then fails, which is fine: it has closed the
		// events channel all the same.
		_ = tailwatch.RemoveWatch(path)
	}
}

// close ends the watches still open and waits for the pumps.
func (fw *fileWatcher) close() {
	if fw == nil {
		return
	}
	fw.mu.Lock()
	var open []string
	for path := range fw.subs {
		open = append(open, path)
	}
	fw.mu.Unlock()
	for _, path := range open {
		fw.track.Lock()
		fw.mu.Lock()
		_, still := fw.subs[path]
		delete(fw.subs, path)
		fw.mu.Unlock()
		if still {
			_ = tailwatch.RemoveWatch(path)
		}
		fw.track.Unlock()
	}
	fw.pumps.Wait()
}
