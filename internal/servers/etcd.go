package servers

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// etcdReadyTimeout bounds how long Start waits for the embedded server to become ready (it
// usually takes well under a second).
const etcdReadyTimeout = 30 * time.Second

// EtcdConfig says where an embedded etcd keeps its data and which ports it listens on.
type EtcdConfig struct {
	// Dir is the member's data dir; data from an earlier run is reused. Required.
	Dir string
	// ClientPort and PeerPort are on 127.0.0.1. Required and distinct.
	ClientPort, PeerPort int
	// HTTPS makes the client endpoint https: Configure must then set the server's
	// ClientTLSInfo.
	HTTPS bool
	// Configure, when set, adjusts the server's config last, at every Start (TLS,
	// client certificates, bcrypt cost).
	Configure func(*embed.Config)
	// Name and InitialCluster make the server a member of a cluster: its name, and every
	// member's "name=peer URL", comma-separated (embed.Config.InitialCluster). Empty: a
	// single-member cluster named "logcollect".
	Name, InitialCluster string
}

// Etcd is a single-member etcd server embedded in this process
// (go.etcd.io/etcd/server/v3/embed). Stop and Start simulate an outage: the server comes back
// on the same ports with the same data. It is safe for concurrent use.
type Etcd struct {
	dir       string
	name      string
	cluster   string // initial cluster; empty: this member alone
	clientURL url.URL
	peerURL   url.URL
	configure func(*embed.Config)
	mu        sync.Mutex
	srv       *embed.Etcd // nil while stopped
}

// NewEtcd returns a server for cfg; Start runs it.
func NewEtcd(cfg EtcdConfig) (*Etcd, error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("etcd: no data dir")
	case cfg.ClientPort <= 0 || cfg.PeerPort <= 0 || cfg.ClientPort == cfg.PeerPort:
		return nil, fmt.Errorf("etcd: want two distinct ports, have %d and %d", cfg.ClientPort, cfg.PeerPort)
	}
	scheme := "http"
	if cfg.HTTPS {
		scheme = "https"
	}
	return &Etcd{
		dir:       cfg.Dir,
		name:      cmp.Or(cfg.Name, "logcollect"),
		cluster:   cfg.InitialCluster,
		configure: cfg.Configure,
		clientURL: url.URL{Scheme: scheme, Host: loopback(cfg.ClientPort)},
		peerURL:   url.URL{Scheme: "http", Host: loopback(cfg.PeerPort)},
	}, nil
}

// Endpoints returns the client endpoints, e.g. ["http://127.0.0.1:2379"].
// They stay the same across Stop and Start.
func (e *Etcd) Endpoints() []string {
	return []string{e.clientURL.String()}
}

// PeerURL returns the member's peer URL, e.g. "http://127.0.0.1:2380".
func (e *Etcd) PeerURL() string { return e.peerURL.String() }

// IsLeader tells whether the server runs and is its cluster's raft leader.
func (e *Etcd) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srv != nil && e.srv.Server.Leader() == e.srv.Server.MemberID()
}

// Kill stops the server without telling its peers, as a crash would (a leader does not hand
// its leadership over first, as Stop does). The data dir is kept.
func (e *Etcd) Kill() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv == nil {
		return
	}
	e.srv.Server.HardStop()
	e.srv.Close()
	e.srv = nil
}

// Stop closes the server, as in an outage. The data dir is kept, so Start
// brings back the same data. Stop on a stopped server does nothing.
func (e *Etcd) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv == nil {
		return
	}
	e.srv.Close() // blocks until the server and its listeners are closed
	e.srv = nil
}

// Start starts the server, again on the same ports and data dir after Stop, and waits until
// it is ready. Start on a running server does nothing.
func (e *Etcd) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil {
		return nil
	}
	cfg := embed.NewConfig()
	cfg.Name = e.name
	cfg.Dir = e.dir
	cfg.LogLevel = "fatal" // it logs harmless errors on Close
	cfg.ListenClientUrls = []url.URL{e.clientURL}
	cfg.AdvertiseClientUrls = []url.URL{e.clientURL}
	cfg.ListenPeerUrls = []url.URL{e.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{e.peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	if e.cluster != "" {
		cfg.InitialCluster = e.cluster
	}
	cfg.InitialClusterToken = "logcollect"
	// Rebinding the same ports right after Close.
	cfg.SocketOpts.ReuseAddress = true
	// Single member on loopback: elect fast.
	cfg.TickMs = 10
	cfg.ElectionMs = 100
	if e.configure != nil {
		e.configure(cfg)
	}

	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start embedded etcd in %s: %w", e.dir, err)
	}
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		srv.Close()
		return fmt.Errorf("embedded etcd failed while starting: %w", err)
	case <-time.After(etcdReadyTimeout):
		srv.Server.Stop()
		srv.Close()
		return errors.New("embedded etcd not ready after " + etcdReadyTimeout.String())
	}
	e.srv = srv
	return nil
}
