package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/retry"
)

// Registration defaults.
const (
	defaultRegistrationTTL = 15 * time.Second
	registrationTimeout    = 5 * time.Second // each grant, put
	deregisterTimeout      = 2 * time.Second // revoke on shutdown
)

// Registrar keeps the agent registered in etcd while it runs: the key
// collect.RegistrationKey(info.IP) holds the collect.AgentInfo as JSON, attached to a lease
// kept alive by the agent, so it disappears within the TTL when the agent
// dies and at once when it stops cleanly. Update is safe for concurrent use;
// Run is called once.
type Registrar struct {
	cli *clientv3.Client
	ttl time.Duration
	log *slog.Logger

	mu      sync.Mutex
	info    collect.AgentInfo
	hasInfo bool
	written collect.AgentInfo // the info last written to etcd
	// changed signals Run that info changed. Size 1: updates coalesce, Run
	// always puts the latest info.
	changed chan struct{}
}

// NewRegistrar returns a Registrar using leases of ttl (default 15s;
// etcd's minimum is a few seconds).
func NewRegistrar(cli *clientv3.Client, ttl time.Duration, log *slog.Logger) *Registrar {
	if ttl <= 0 {
		ttl = defaultRegistrationTTL
	}
	return &Registrar{
		cli:     cli,
		ttl:     ttl,
		log:     log.With("component", "registrar"),
		changed: make(chan struct{}, 1),
	}
}

// Update sets the info to publish. It does not block: Run puts it as soon as
// it can. Run registers only after the first Update.
func (r *Registrar) Update(info collect.AgentInfo) {
	r.mu.Lock()
	r.info, r.hasInfo = info, true
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default: // a signal is pending: Run will read the latest info
	}
}

func (r *Registrar) current() (collect.AgentInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info, r.hasInfo
}

// Run registers the agent and keeps it registered until ctx is done: it
// grants a lease, puts the key with it and keeps the lease alive. When the
// client gives the lease up (no keep-alive answer within the TTL, as across
// an etcd restart or on a loaded host) it asks etcd whether the lease is
// still alive (a restarted etcd renews every lease) and if so keeps that
// lease alive again; when the lease is lost (expired while etcd could not be
// reached, revoked) it grants a new one and puts the key again, with
// backoff. When ctx is done it revokes the lease, which deletes the key, and
// returns nil.
func (r *Registrar) Run(ctx context.Context) error {
	bo := retry.Backoff{Min: 200 * time.Millisecond, Max: max(r.ttl/3, time.Second)}
	for {
		// Register after the first Update.
		if _, ok := r.current(); !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-r.changed:
				continue
			}
		}
		lease, key, err := r.register(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.log.Warn("registering in etcd failed, retrying", "endpoints", r.cli.Endpoints(), "err", err)
			if !retry.Sleep(ctx, bo.Next()) {
				return nil
			}
			continue
		}
		bo.Reset()
		r.log.Info("registered in etcd", "key", key, "lease", fmt.Sprintf("%x", lease), "ttl", r.ttl)
		for {
			kept := time.Now()
			key, err = r.keepAlive(ctx, lease, key)
			if ctx.Err() != nil {
				r.deregister(lease, key)
				return nil
			}
			// clientv3 gives a lease up when no keep-alive answer came within the TTL,
			// which an etcd restart or a loaded host causes while etcd keeps the lease (a
			// restarted etcd renews every lease): ask etcd before granting a new one, so
			// that a restart does not cost it a grant and a put per agent.
			if !r.leaseKept(ctx, lease) {
				break
			}
			r.log.Info("etcd registration kept: its lease is alive, keeping it alive again", "key", key, "lease", fmt.Sprintf("%x", lease), "err", err)
			// The lease may have little time left: pause briefly, and back off only
			// when keepAlive keeps failing at once (it must not spin).
			if time.Since(kept) > r.ttl {
				bo.Reset()
			}
			if !retry.Sleep(ctx, bo.Next()) {
				r.deregister(lease, key)
				return nil
			}
		}
		if ctx.Err() != nil { // while asking about the lease: it may be alive
			r.deregister(lease, key)
			return nil
		}
		r.log.Warn("etcd registration lost, registering again", "key", key, "err", err)
		if !retry.Sleep(ctx, bo.Next()) {
			return nil
		}
	}
}

// leaseKept reports whether etcd still holds lease with time left. While etcd
// cannot be reached it asks again with backoff, until ctx is done (false).
func (r *Registrar) leaseKept(ctx context.Context, lease clientv3.LeaseID) bool {
	bo := retry.Backoff{Min: 200 * time.Millisecond, Max: max(r.ttl/3, time.Second)}
	for {
		tctx, cancel := context.WithTimeout(ctx, registrationTimeout)
		resp, err := r.cli.TimeToLive(tctx, lease)
		cancel()
		switch {
		case err == nil:
			return resp.TTL >= 0 // whole seconds left, rounded down; -1: expired or revoked
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			return false
		}
		r.log.Debug("asking etcd whether the registration's lease is alive failed, retrying", "lease", fmt.Sprintf("%x", lease), "err", err)
		if !retry.Sleep(ctx, bo.Next()) {
			return false
		}
	}
}

// register grants a lease and puts the current info with it.
func (r *Registrar) register(ctx context.Context) (clientv3.LeaseID, string, error) {
	gctx, cancel := context.WithTimeout(ctx, registrationTimeout)
	defer cancel()
	g, err := r.cli.Grant(gctx, int64((r.ttl+time.Second-1)/time.Second))
	if err != nil {
		return 0, "", fmt.Errorf("grant lease: %w", err)
	}
	key, err := r.put(ctx, g.ID)
	if err != nil {
		// The lease expires on its own; revoking is a courtesy.
		rctx, rcancel := context.WithTimeout(ctx, registrationTimeout)
		_, _ = r.cli.Revoke(rctx, g.ID)
		rcancel()
		return 0, "", err
	}
	return g.ID, key, nil
}

// put writes the current info under its key with the lease.
func (r *Registrar) put(ctx context.Context, lease clientv3.LeaseID) (string, error) {
	info, _ := r.current()
	val, err := json.Marshal(info)
	if err != nil {
		return "", fmt.Errorf("encode agent info: %w", err)
	}
	key := collect.RegistrationKey(info.IP)
	pctx, cancel := context.WithTimeout(ctx, registrationTimeout)
	defer cancel()
	if _, err := r.cli.Put(pctx, key, string(val), clientv3.WithLease(lease)); err != nil {
		return "", fmt.Errorf("put %s: %w", key, err)
	}
	r.mu.Lock()
	r.written = info
	r.mu.Unlock()
	return key, nil
}

// stale reports whether the info changed since it was last written.
func (r *Registrar) stale() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info != r.written
}

// keepAlive keeps lease alive and puts info changes until ctx is done or the
// lease is lost; it returns the registration's key (it moves with the IP) and
// why it stopped.
func (r *Registrar) keepAlive(ctx context.Context, lease clientv3.LeaseID, key string) (string, error) {
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// clientv3 sends a keep-alive every TTL/3 and closes the channel when
	// the lease expired (no answer within the TTL) or was revoked.
	ka, err := r.cli.KeepAlive(kctx, lease)
	if err != nil {
		return key, fmt.Errorf("keep lease alive: %w", err)
	}
	var again <-chan time.Time // set while a changed info is not yet put
	if r.stale() {             // changed while an earlier keepAlive on this lease failed to put it
		again = time.After(0)
	}
	bo := retry.Backoff{Min: 200 * time.Millisecond, Max: max(r.ttl/3, time.Second)}
	for {
		select {
		case <-ctx.Done():
			return key, ctx.Err()
		case _, ok := <-ka:
			if !ok {
				return key, errors.New("lease keep-alive ended (no answer within the TTL, or the lease expired or was revoked)")
			}
			continue
		case <-r.changed:
		case <-again:
		}
		again = nil
		newKey, err := r.put(ctx, lease)
		switch {
		case err == nil:
			bo.Reset()
			if newKey != key {
				// The IP changed: drop the old registration.
				dctx, dcancel := context.WithTimeout(ctx, registrationTimeout)
				_, _ = r.cli.Delete(dctx, key)
				dcancel()
				key = newKey
			}
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			return key, err
		case ctx.Err() == nil:
			r.log.Warn("updating the etcd registration failed, retrying", "key", key, "err", err)
			again = time.After(bo.Next())
		}
	}
}

// deregister revokes the lease, deleting the key, with a short timeout: the
// lease expires anyway if etcd is unreachable.
func (r *Registrar) deregister(lease clientv3.LeaseID, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), deregisterTimeout)
	defer cancel()
	if _, err := r.cli.Revoke(ctx, lease); err != nil {
		r.log.Warn("deregistering from etcd failed; the key expires with its lease", "key", key, "ttl", r.ttl, "err", err)
		return
	}
	r.log.Info("deregistered from etcd", "key", key)
}
