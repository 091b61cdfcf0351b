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
// lease is lost (etcd down for longer than the TTL, lease revoked) it grants
// a new one and puts the key again, with backoff. When ctx is done it
// revokes the lease, which deletes the key, and returns nil.
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
		err = r.keepAlive(ctx, lease, key)
		if ctx.Err() != nil {
			r.deregister(lease, key)
			return nil
		}
		r.log.Warn("etcd registration lost, registering again", "key", key, "err", err)
		if !retry.Sleep(ctx, bo.Next()) {
			return nil
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
	return key, nil
}

// keepAlive keeps lease alive and puts info changes until ctx is done or the
// lease is lost; it returns why it stopped.
func (r *Registrar) keepAlive(ctx context.Context, lease clientv3.LeaseID, key string) error {
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// clientv3 sends a keep-alive every TTL/3 and closes the channel when
	// the lease expired (no answer within the TTL) or was revoked.
	ka, err := r.cli.KeepAlive(kctx, lease)
	if err != nil {
		return fmt.Errorf("keep lease alive: %w", err)
	}
	var again <-chan time.Time // set while a changed info is not yet put
	bo := retry.Backoff{Min: 200 * time.Millisecond, Max: max(r.ttl/3, time.Second)}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-ka:
			if !ok {
				return errors.New("lease keep-alive ended (lease expired or revoked)")
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
			return err
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
