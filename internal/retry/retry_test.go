package retry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	within := func(d, want time.Duration) {
		t.Helper()
		require.InDelta(t, float64(want), float64(d), Jitter*float64(want)+1, "want %s ±20%%, got %s", want, d)
	}
	for _, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		within(b.Next(), want*time.Millisecond)
	}
	for range 100 {
		within(b.Next(), time.Second) // no overflow after many attempts
	}
	require.Equal(t, 106, b.Attempts())
	b.Reset()
	require.Zero(t, b.Attempts())
	within(b.Next(), 100*time.Millisecond)

	b = Backoff{Min: time.Second, Max: time.Second}
	within(b.Next(), time.Second)
}

func TestBackoffJitterSpreads(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 50 {
		b := Backoff{Min: time.Second, Max: time.Second}
		seen[b.Next()] = true
	}
	require.Greater(t, len(seen), 40, "waits must differ, so that clients do not retry in step")
}

func TestSleep(t *testing.T) {
	require.True(t, Sleep(context.Background(), time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	require.False(t, Sleep(ctx, time.Hour))
	require.Less(t, time.Since(start), time.Second)
}
