package testenv

import (
	"testing"
)

// The secured server serves its own client: TLS with a client certificate
// required, and authentication as root.
func TestEtcdTLSAndAuth(t *testing.T) {
	e := StartEtcdWithOptions(t, EtcdOptions{Certs: NewCerts(t), ClientCertAuth: true, RootPassword: "pw"})
	if _, err := e.Client(t).Put(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
}
