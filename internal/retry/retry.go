// Package retry is the one backoff of logcollect. Every loop that retries a
// server (logagent's etcd source and registration, logtransfer's
// Elasticsearch connection, bulk retries and topics watch, sysmon's InfluxDB
// writer) waits the same way: a delay that doubles from a minimum to a
// maximum, with jitter so that a fleet of agents does not hit a server that
// comes back all at once, and a wait that ends when the context does.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff computes the waits between attempts. The zero value is not useful:
// set Min and Max (Min <= Max). Not safe for concurrent use; each retry loop
// owns its Backoff.
type Backoff struct {
	Min, Max time.Duration
	n        int // attempts since Reset
}

// Jitter is the spread of each wait: ±20% around the doubling delay.
const Jitter = 0.2

// Next returns the wait before the next attempt: Min for the first call after
// a Reset, doubled on each further call, at most Max, then spread by ±Jitter.
func (b *Backoff) Next() time.Duration {
	d := b.Min << min(b.n, 30)
	if d <= 0 || d > b.Max {
		d = b.Max
	}
	b.n++
	return time.Duration(float64(d) * (1 - Jitter + 2*Jitter*rand.Float64()))
}

// Attempts returns how many waits Next has given since the last Reset: the
// retries so far.
func (b *Backoff) Attempts() int { return b.n }

// Reset starts again from Min, after a success.
func (b *Backoff) Reset() { b.n = 0 }

// Sleep waits d or until ctx is done, and reports whether it waited all of d.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
