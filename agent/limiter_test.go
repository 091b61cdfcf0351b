package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimiter(t *testing.T) {
	l := newLimiter(2, 100)
	ctx := context.Background()
	require.NoError(t, l.acquire(ctx, 60))
	require.NoError(t, l.acquire(ctx, 30))

	// full by records: waits, and a cancelled wait gives up
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, l.acquire(cctx, 1), context.DeadlineExceeded)

	// a release wakes a waiter: once the waiter has armed the wake-up (the
	// cancelled wait above left it armed: disarm it first), it is blocked
	// until the release
	l.armed.Store(false)
	got := make(chan error, 1)
	go func() { got <- l.acquire(ctx, 10) }()
	require.Eventually(t, l.armed.Load, 10*time.Second, time.Millisecond, "the acquire does not wait")
	select {
	case err := <-got:
		t.Fatalf("acquire returned (%v) while the limiter is full", err)
	default:
	}
	l.release(30)
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the release did not wake the waiter")
	}
	recs, bytes := l.buffered()
	require.EqualValues(t, 2, recs)
	require.EqualValues(t, 70, bytes)

	// full by bytes
	l.release(10)
	cctx2, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	require.ErrorIs(t, l.acquire(cctx2, 50), context.DeadlineExceeded, "60+50 > 100 bytes")

	// a record larger than the byte limit passes alone
	l.release(60)
	require.NoError(t, l.acquire(ctx, 500))
}

// TestLimiterConcurrent hammers the limiter from several goroutines: the
// limits hold and nobody is left waiting.
func TestLimiterConcurrent(t *testing.T) {
	const maxRecs, maxBytes = 8, 1000
	l := newLimiter(maxRecs, maxBytes)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inflight := make(chan int, 1000)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				n := 1 + (g*7+i*13)%300
				if !assertNoErr(t, l.acquire(ctx, n)) {
					return
				}
				recs, bytes := l.buffered()
				if recs > maxRecs || (recs > 1 && bytes > maxBytes) {
					t.Errorf("over the limits: %d records, %d bytes", recs, bytes)
					return
				}
				inflight <- n
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		for n := range inflight {
			l.release(n)
		}
		close(done)
	}()
	wg.Wait()
	close(inflight)
	<-done
	recs, bytes := l.buffered()
	require.Zero(t, recs)
	require.Zero(t, bytes)
}

func assertNoErr(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}
