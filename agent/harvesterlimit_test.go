package agent

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReadSlotsRun: a pass runs on a worker, run returns once it has, no
// more than the slots' number of passes run at once, and a pass that waits
// for a slot when its context ends does not run.
func TestReadSlotsRun(t *testing.T) {
	slots := newReadSlots(2)
	stop := slots.work()
	defer stop()
	var running, most atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	done := make([]bool, 5)
	for i := range done {
		wg.Go(func() {
			err := slots.run(context.Background(), func() {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				<-release
				running.Add(-1)
				done[i] = true
			}, make(chan struct{}, 1))
			require.NoError(t, err)
			require.True(t, done[i], "run returned before its pass")
		})
	}
	require.Eventually(t, func() bool { return running.Load() == 2 }, 10*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // the other three wait for a slot
	require.EqualValues(t, 2, running.Load())
	close(release)
	wg.Wait()
	require.EqualValues(t, 2, most.Load())

	full := newReadSlots(1)
	defer full.work()()
	full.slot <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	ran := false
	err := full.run(ctx, func() { ran = true }, make(chan struct{}, 1))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, ran)
}

// TestIdleMemoryFreesPooledBuffers: once the agent has been idle for
// idleAfter, what the sync.Pools held during the burst is freed (it survives
// one collection in the pools' victim caches), once per burst.
func TestIdleMemoryFreesPooledBuffers(t *testing.T) {
	var pool sync.Pool
	freed := make(chan struct{})
	buf := new([64 << 10]byte)
	runtime.AddCleanup(buf, func(ch chan struct{}) { close(ch) }, freed)
	pool.Put(buf)
	buf = nil // the pool's is the only reference left

	var m idleMemory
	now := time.Now()
	require.False(t, m.check(now), "the first look starts the idle time")
	require.False(t, m.check(now.Add(idleAfter/2)))
	require.True(t, m.check(now.Add(idleAfter)))
	select {
	case <-freed:
	case <-time.After(10 * time.Second):
		t.Fatal("a pooled buffer is still held after the agent went idle")
	}
	require.False(t, m.check(now.Add(2*idleAfter)), "memory is returned once per burst")
	runtime.KeepAlive(&pool)
}
