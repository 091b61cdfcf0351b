package testenv

import (
	"testing"
)

func TestEtcdTLSAndAuth(t *testing.T) {
	certs := NewCerts(t)
	e := StartEtcdWithOptions(t, EtcdOptions{Certs: certs, ClientCertAuth: true, RootPassword: "pw"})
	StartEtcdWithOptions(t, EtcdOptions{Certs: &Certs{ServerCert: certs.ExpiredCert, ServerKey: certs.ExpiredKey, CA: certs.CA}})
	t.Run("x", func(t *testing.T) {
		cli := e.Client(t)
		if _, err := cli.Put(t.Context(), "k", "v"); err != nil {
			t.Fatal(err)
		}
	})
}
