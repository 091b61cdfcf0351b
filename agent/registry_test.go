package agent

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRegistrySavesChanges: every change of what the registry file holds
// makes the next Save write it, and a Save with nothing changed encodes
// nothing (an idle agent saves every second); a failed Save is retried by
// the next one even when nothing changed since.
func TestRegistrySavesChanges(t *testing.T) {
	const task = "/var/log/app/*.log"
	now := time.Date(2026, 12, 7, 14, 10, 0, 0, time.UTC)
	tests := []struct {
		name    string
		change  func(r *Registry, e *entry)
		changed bool
	}{
		{name: "nothing", change: func(*Registry, *entry) {}},
		{name: "ack", change: func(_ *Registry, e *entry) { e.ack(e.gen, 200) }, changed: true},
		{name: "ack of an older generation", change: func(_ *Registry, e *entry) { e.ack(e.gen-1, 200) }},
		{name: "filtered event skipped", change: func(_ *Registry, e *entry) { e.skip(e.gen, 100, 300) }, changed: true},
		{name: "new generation", change: func(_ *Registry, e *entry) { e.begin(0) }, changed: true},
		{name: "new epoch", change: func(r *Registry, e *entry) { r.renew(e) }, changed: true},
		{name: "found at a new path", change: func(_ *Registry, e *entry) { e.update("/var/log/app/b.log", 10, 1, now) }, changed: true},
		{name: "new fingerprint", change: func(_ *Registry, e *entry) { e.setFingerprint(20, 2) }, changed: true},
		{name: "seen in the same hour", change: func(_ *Registry, e *entry) { e.seen(now.Add(time.Minute)) }},
		{name: "seen in a new hour", change: func(_ *Registry, e *entry) { e.seen(now.Add(time.Hour)) }, changed: true},
		{name: "new file", change: func(r *Registry, _ *entry) { r.put(&entry{ID: fileID{Dev: 1, Ino: 2}, Task: task}) }, changed: true},
		{name: "file forgotten", change: func(r *Registry, e *entry) { r.remove(e.ID) }, changed: true},
		{name: "file pruned", change: func(r *Registry, _ *entry) { r.prune(now.Add(48*time.Hour), time.Hour) }, changed: true},
		{name: "known task", change: func(r *Registry, _ *entry) { r.knownTask(task) }},
		{name: "new task", change: func(r *Registry, _ *entry) { r.knownTask("/var/log/other/*.log") }, changed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := OpenRegistry(dir)
			require.NoError(t, err)
			r.knownTask(task)
			e := &entry{ID: fileID{Dev: 1, Ino: 1}, Task: task}
			r.renew(e)
			r.put(e)
			e.update("/var/log/app/a.log", 10, 1, now)
			e.begin(100)
			require.NoError(t, r.Save())
			before, err := os.ReadFile(r.Path())
			require.NoError(t, err)

			tc.change(r, e)
			_, changed := r.snapshot()
			require.Equal(t, tc.changed, changed, "dirty after the change")
			// snapshot cleared the flags: mark again as the change did
			r.mu.Lock()
			r.changed = changed
			r.mu.Unlock()
			require.NoError(t, r.Save())
			after, err := os.ReadFile(r.Path())
			require.NoError(t, err)
			if tc.changed {
				require.NotEqual(t, string(before), string(after), "the change is written")
			} else {
				require.Equal(t, string(before), string(after))
			}
			_, changed = r.snapshot()
			require.False(t, changed, "clean after a save")
		})
	}

	t.Run("failed save retried", func(t *testing.T) {
		dir := t.TempDir()
		r, err := OpenRegistry(dir)
		require.NoError(t, err)
		e := &entry{ID: fileID{Dev: 1, Ino: 1}, Task: task}
		r.renew(e)
		r.put(e)
		e.begin(100)
		require.NoError(t, r.Save())
		e.ack(e.gen, 200)
		require.NoError(t, os.RemoveAll(dir))
		require.Error(t, r.Save(), "its directory is gone")
		require.NoError(t, os.MkdirAll(dir, 0o750))
		require.NoError(t, r.Save(), "nothing changed since, but the last save failed")
		r2, err := OpenRegistry(dir)
		require.NoError(t, err)
		require.EqualValues(t, 200, r2.lookup(e.ID).committed())
	})
}
