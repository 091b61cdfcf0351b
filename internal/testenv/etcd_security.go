package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"golang.org/x/crypto/bcrypt"
)

// EtcdOptions secure the server of StartEtcdWithOptions.
type EtcdOptions struct {
	// Certs, when set, makes the client endpoint https with Certs' server certificate.
	Certs *Certs
	// ClientCertAuth requires a client certificate signed by Certs.CA.
	ClientCertAuth bool
	// RootPassword, when set, enables authentication with the user "root" (role root).
	RootPassword string
}

// StartEtcdWithOptions is StartEtcd with TLS and authentication as o says. Client connects
// as root, with Certs' client certificate.
func StartEtcdWithOptions(t testing.TB, o EtcdOptions) *Etcd {
	t.Helper()
	e := startEtcd(t, o)
	if o.RootPassword != "" {
		if err := e.enableAuth(t); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (o EtcdOptions) scheme() string {
	if o.Certs != nil {
		return "https"
	}
	return "http"
}

func (o EtcdOptions) username() string {
	if o.RootPassword != "" {
		return "root"
	}
	return ""
}

func (o EtcdOptions) apply(cfg *embed.Config) {
	// Every Authenticate checks the password with bcrypt: at the default cost it takes
	// seconds under -race on a busy machine, beyond the clients' dial timeouts.
	cfg.BcryptCost = uint(bcrypt.MinCost)
	if o.Certs == nil {
		return
	}
	cfg.ClientTLSInfo = transport.TLSInfo{CertFile: o.Certs.ServerCert, KeyFile: o.Certs.ServerKey}
	if o.ClientCertAuth {
		cfg.ClientTLSInfo.TrustedCAFile, cfg.ClientTLSInfo.ClientCertAuth = o.Certs.CA, true
	}
}

// clientTLS is the test's own client TLS config: Certs' CA and client certificate.
func (o EtcdOptions) clientTLS(t testing.TB) *tls.Config {
	if o.Certs == nil {
		return nil
	}
	pem, err := os.ReadFile(o.Certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(o.Certs.ClientCert, o.Certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// enableAuth adds the root user and turns authentication on, as `etcdctl user add root`,
// `user grant-role root root` and `auth enable` do.
func (e *Etcd) enableAuth(t testing.TB) error {
	o := e.opts
	e.opts.RootPassword = "" // the user does not exist yet
	cli := e.Client(t)
	e.opts = o
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.UserAdd(ctx, "root", o.RootPassword); err != nil {
		return fmt.Errorf("etcd: add user root: %w", err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		return fmt.Errorf("etcd: grant role root: %w", err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		return fmt.Errorf("etcd: enable auth: %w", err)
	}
	return nil
}
