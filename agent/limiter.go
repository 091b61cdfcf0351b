package agent

import (
	"context"
	"sync"
	"sync/atomic"
)

// limiter bounds the records and bytes handed to Kafka and not yet
// acknowledged. Harvesters wait in acquire (backpressure) and can be
// cancelled while waiting, which a blocking kgo Produce cannot offer without
// failing already buffered records.
//
// It runs twice per line, on the harvester and on the promise goroutine, so
// while there is room it costs one atomic add each way; the mutex is only
// taken to wait and to wake waiters.
type limiter struct {
	maxRecords, maxBytes int64

	// state packs the records (high 24 bits) and bytes (low 40 bits) in
	// flight, so that one atomic add reserves or releases both.
	state atomic.Uint64
	armed atomic.Bool // an acquire waits (or is about to) on wake

	mu   sync.Mutex
	wake chan struct{} // closed and replaced when a waiter may proceed
}

const (
	limiterBytesBits = 40
	limiterBytesMask = 1<<limiterBytesBits - 1
	limiterRecord    = 1 << limiterBytesBits
	// limiterMaxRecords and limiterMaxBytes are what state can count;
	// newLimiter caps the limits below them (with room for one record of
	// any size above the byte limit).
	limiterMaxRecords = 1<<(64-limiterBytesBits) - 2
	limiterMaxBytes   = 1 << (limiterBytesBits - 2)
)

func newLimiter(maxRecords, maxBytes int) *limiter {
	return &limiter{
		maxRecords: min(int64(maxRecords), limiterMaxRecords),
		maxBytes:   min(int64(maxBytes), limiterMaxBytes),
		wake:       make(chan struct{}),
	}
}

func unpackLimiter(s uint64) (records, bytes int64) {
	return int64(s >> limiterBytesBits), int64(s & limiterBytesMask)
}

// tryAcquire reserves room for one record of n bytes if there is room. A
// record larger than the byte limit is let through when nothing else is in
// flight.
func (l *limiter) tryAcquire(n int64) bool {
	for {
		s := l.state.Load()
		records, bytes := unpackLimiter(s)
		if records != 0 && (records >= l.maxRecords || bytes+n > l.maxBytes) {
			return false
		}
		if l.state.CompareAndSwap(s, s+limiterRecord+uint64(n)) {
			return true
		}
	}
}

// acquire reserves room for one record of n bytes, waiting until there is
// some or ctx is done.
func (l *limiter) acquire(ctx context.Context, n int) error {
	_, err := l.acquireWaited(ctx, n)
	return err
}

// acquireWaited is acquire that also reports whether it had to wait.
func (l *limiter) acquireWaited(ctx context.Context, n int) (waited bool, err error) {
	if int64(n) > limiterMaxBytes {
		n = limiterMaxBytes // counted as the largest record state can hold
	}
	if l.tryAcquire(int64(n)) {
		return false, nil
	}
	return true, l.wait(ctx, int64(n))
}

func (l *limiter) wait(ctx context.Context, n int64) error {
	for {
		// Arm the wake-up before checking again: a release that frees
		// room after this check sees armed and closes w (or a later
		// channel, once w is closed).
		l.mu.Lock()
		l.armed.Store(true)
		w := l.wake
		l.mu.Unlock()
		if l.tryAcquire(n) {
			return nil
		}
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
		if l.tryAcquire(n) {
			return nil
		}
	}
}

func (l *limiter) release(n int) {
	if int64(n) > limiterMaxBytes {
		n = limiterMaxBytes
	}
	l.state.Add(-(limiterRecord + uint64(n)))
	if l.armed.Load() && l.armed.CompareAndSwap(true, false) {
		l.mu.Lock()
		close(l.wake)
		l.wake = make(chan struct{})
		l.mu.Unlock()
	}
}

func (l *limiter) buffered() (records, bytes int64) {
	return unpackLimiter(l.state.Load())
}
