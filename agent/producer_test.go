package agent

import (
	"context"
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

	// a release wakes a waiter
	got := make(chan error, 1)
	go func() { got <- l.acquire(ctx, 10) }()
	time.Sleep(20 * time.Millisecond)
	l.release(30)
	require.NoError(t, <-got)
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

func TestSASLAndCompression(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "scram-sha-512"} {
		m := saslMechanism(SASLConfig{Mechanism: mech, Username: "u", Password: "p"})
		require.NotNil(t, m, mech)
	}
	require.Nil(t, saslMechanism(SASLConfig{}))
	for _, c := range []string{"", "zstd", "none", "gzip", "snappy", "lz4"} {
		_, err := compressionCodec(c)
		require.NoError(t, err, c)
	}
	_, err := compressionCodec("brotli")
	require.ErrorContains(t, err, "brotli")
}
