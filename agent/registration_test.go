package agent

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/testenv"
)

// lookupRegistration reads the agent's key: its info, its lease and the
// lease's remaining TTL; ok is false when the key does not exist.
func lookupRegistration(cli *clientv3.Client, ip string) (info collect.AgentInfo, lease clientv3.LeaseID, ttl int64, ok bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, collect.RegistrationKey(ip))
	if err != nil || len(resp.Kvs) == 0 {
		return collect.AgentInfo{}, 0, 0, false, err
	}
	kv := resp.Kvs[0]
	if err := json.Unmarshal(kv.Value, &info); err != nil {
		return collect.AgentInfo{}, 0, 0, false, err
	}
	lease = clientv3.LeaseID(kv.Lease)
	if lease == 0 {
		return collect.AgentInfo{}, 0, 0, false, errors.New("the key is not attached to a lease")
	}
	ttlResp, err := cli.TimeToLive(ctx, lease)
	if err != nil {
		return collect.AgentInfo{}, 0, 0, false, err
	}
	return info, lease, ttlResp.TTL, true, nil
}

// registration is lookupRegistration for the test goroutine: errors fail.
func registration(t *testing.T, cli *clientv3.Client, ip string) (info collect.AgentInfo, lease clientv3.LeaseID, ttl int64, ok bool) {
	t.Helper()
	info, lease, ttl, ok, err := lookupRegistration(cli, ip)
	require.NoError(t, err)
	return info, lease, ttl, ok
}

// registered is a condition for require.Eventually (which runs it in another
// goroutine, where require must not be used).
func registered(cli *clientv3.Client, ip string, check func(collect.AgentInfo, clientv3.LeaseID) bool) func() bool {
	return func() bool {
		info, lease, _, ok, err := lookupRegistration(cli, ip)
		return err == nil && ok && check(info, lease)
	}
}

// requireLeaseAlive checks a lease's remaining TTL as etcd reports it:
// whole seconds, rounded down, and -1 once expired. A 2 s lease renewed every
// TTL/3 can read 0 when a renewal runs late on a loaded machine (CI failed on
// exactly that), so 0 is alive; the key's presence after several TTLs is what
// proves the keep-alives.
func requireLeaseAlive(t *testing.T, ttl int64) {
	t.Helper()
	require.GreaterOrEqual(t, ttl, int64(0), "lease expired")
}

// runRegistrar starts r.Run; the returned stop cancels it and checks that it
// returned nil.
func runRegistrar(t *testing.T, r *Registrar) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Registrar.Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestRegistrarLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for etcd leases")
	}
	etcdLeakCheck(t)
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	log, _ := etcdTestLog(t)
	r := NewRegistrar(cli, 2*time.Second, log)
	stop := runRegistrar(t, r)

	// Nothing is registered before the first Update.
	time.Sleep(200 * time.Millisecond)
	_, _, _, ok := registration(t, cli, "10.0.0.7")
	require.False(t, ok)

	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	info := collect.AgentInfo{Hostname: "web-1", IP: "10.0.0.7", Version: "1.2.3", StartTime: start, Tasks: 0, MetricsURL: "http://10.0.0.7:9101/metrics"}
	r.Update(info)
	require.Eventually(t, registered(cli, "10.0.0.7", func(got collect.AgentInfo, _ clientv3.LeaseID) bool {
		return got == info
	}), 5*time.Second, 20*time.Millisecond)

	// Updates are put with the same lease.
	_, lease, _, _ := registration(t, cli, "10.0.0.7")
	for n := 1; n <= 3; n++ {
		info.Tasks = n
		r.Update(info)
	}
	require.Eventually(t, registered(cli, "10.0.0.7", func(got collect.AgentInfo, l clientv3.LeaseID) bool {
		return got.Tasks == 3 && l == lease
	}), 5*time.Second, 20*time.Millisecond)

	// The lease is kept alive past its TTL.
	time.Sleep(3 * time.Second)
	got, l, ttl, ok := registration(t, cli, "10.0.0.7")
	require.True(t, ok)
	require.Equal(t, lease, l)
	requireLeaseAlive(t, ttl)
	require.Equal(t, 3, got.Tasks)

	// The raw JSON uses the documented field names.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, collect.RegistrationKey("10.0.0.7"))
	require.NoError(t, err)
	require.JSONEq(t, `{"hostname":"web-1","ip":"10.0.0.7","version":"1.2.3","start_time":"2025-01-02T03:04:05Z","tasks":3,"metrics_url":"http://10.0.0.7:9101/metrics"}`,
		string(resp.Kvs[0].Value))

	// Stopping deregisters at once (not after the TTL).
	stop()
	_, _, _, ok = registration(t, cli, "10.0.0.7")
	require.False(t, ok, "key deleted on shutdown")
	ttlResp, err := cli.TimeToLive(ctx, lease)
	require.NoError(t, err)
	require.EqualValues(t, -1, ttlResp.TTL, "lease revoked")
}

func TestRegistrarSurvivesEtcdRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts etcd")
	}
	tests := []struct {
		name   string
		outage time.Duration
	}{
		// Shorter than the TTL: the lease survives, keep-alives resume.
		{name: "short outage", outage: 0},
		// Longer than the TTL: the client gives the lease up, but the
		// restarted etcd renewed it: the Registrar keeps the same lease
		// alive again instead of granting a new one.
		{name: "outage longer than the TTL", outage: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			etcdLeakCheck(t)
			e := testenv.StartEtcd(t)
			cli := e.Client(t)
			log, _ := etcdTestLog(t)
			r := NewRegistrar(cli, 2*time.Second, log)
			info := collect.AgentInfo{Hostname: "web-2", IP: "10.0.0.8", Version: "1.2.3", StartTime: time.Now().UTC().Truncate(time.Second), Tasks: 2}
			r.Update(info)
			stop := runRegistrar(t, r)
			require.Eventually(t, registered(cli, "10.0.0.8", func(collect.AgentInfo, clientv3.LeaseID) bool { return true }),
				5*time.Second, 20*time.Millisecond)
			_, lease, _, _ := registration(t, cli, "10.0.0.8")

			e.Stop()
			time.Sleep(tt.outage)
			info.Tasks = 5 // changed during the outage
			r.Update(info)
			require.NoError(t, e.Start())

			// Registered, with the latest info, and kept alive: still there
			// well after any stale lease would have expired.
			require.Eventually(t, registered(cli, "10.0.0.8", func(got collect.AgentInfo, _ clientv3.LeaseID) bool {
				return got.Tasks == 5
			}), 20*time.Second, 50*time.Millisecond)
			time.Sleep(5 * time.Second)
			got, l, ttl, ok := registration(t, cli, "10.0.0.8")
			require.True(t, ok, "registration lost after the restart")
			require.Equal(t, lease, l, "the lease etcd kept is kept alive again, not replaced")
			require.Equal(t, 5, got.Tasks)
			requireLeaseAlive(t, ttl)

			stop()
			_, _, _, ok = registration(t, cli, "10.0.0.8")
			require.False(t, ok, "key deleted on shutdown")
		})
	}
}

// A lease etcd no longer holds (revoked here, as an operator or an expiry
// while etcd was unreachable would) is not kept alive again: the Registrar
// grants a new one and puts its key again.
func TestRegistrarLeaseRevoked(t *testing.T) {
	etcdLeakCheck(t)
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	log, _ := etcdTestLog(t)
	r := NewRegistrar(cli, 2*time.Second, log)
	r.Update(collect.AgentInfo{Hostname: "web-3", IP: "10.0.0.9", Version: "1.2.3", Tasks: 1})
	stop := runRegistrar(t, r)
	defer stop()
	require.Eventually(t, registered(cli, "10.0.0.9", func(collect.AgentInfo, clientv3.LeaseID) bool { return true }),
		5*time.Second, 20*time.Millisecond)
	_, lease, _, _ := registration(t, cli, "10.0.0.9")

	_, err := cli.Revoke(t.Context(), lease)
	require.NoError(t, err)
	require.Eventually(t, registered(cli, "10.0.0.9", func(_ collect.AgentInfo, l clientv3.LeaseID) bool { return l != lease }),
		20*time.Second, 50*time.Millisecond, "registered again with a new lease")
}
