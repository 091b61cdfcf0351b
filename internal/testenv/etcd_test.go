package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestEtcdStopStart(t *testing.T) {
	// Runs after the cleanups below: the server and client stop everything.
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	e := StartEtcd(t)
	cli := e.Client(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := cli.Put(ctx, "/testenv/k", "v1")
	require.NoError(t, err)
	resp, err := cli.Get(ctx, "/testenv/k")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	require.Equal(t, "v1", string(resp.Kvs[0].Value))

	e.Stop()
	short, cancelShort := context.WithTimeout(context.Background(), time.Second)
	_, err = cli.Get(short, "/testenv/k")
	cancelShort()
	require.Error(t, err, "Get must fail while etcd is stopped")

	require.NoError(t, e.Start())
	resp, err = cli.Get(ctx, "/testenv/k")
	require.NoError(t, err, "the client reconnects to the same endpoint")
	require.Len(t, resp.Kvs, 1)
	require.Equal(t, "v1", string(resp.Kvs[0].Value), "data survives a restart")

	// Stop and Start are idempotent.
	require.NoError(t, e.Start())
	e.Stop()
	e.Stop()
}
