package servers

import (
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
}

// Etcd is a single-member etcd server embedded in this process
// (go.etcd.io/etcd/server/v3/embed). Stop and Start simulate an outage: the server comes back
// on the same ports with the same data. It is safe for concurrent use.
type Etcd struct {
	dir       string
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
	cfg.Name = "logcollect"
	cfg.Dir = e.dir
	cfg.LogLevel = "fatal" // it logs harmless errors on Close
	cfg.ListenClientUrls = []url.URL{e.clientURL}
	cfg.AdvertiseClientUrls = []url.URL{e.clientURL}
	cfg.ListenPeerUrls = []url.URL{e.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{e.peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
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
