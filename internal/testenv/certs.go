package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Certs are PEM files for TLS tests, written to a t.TempDir() by NewCerts: a CA, a server
// certificate for 127.0.0.1 and localhost and a client certificate it signed, an expired
// server certificate it signed, and a second CA that signed none of them ("wrong CA").
type Certs struct {
	CA                      string // the CA certificate
	OtherCA                 string // a CA that signed nothing here
	ServerCert, ServerKey   string
	ExpiredCert, ExpiredKey string // a server certificate that expired an hour ago
	ClientCert, ClientKey   string
	ServerPEM, ExpiredPEM   string // key then certificate in one file (a Kafka PEM keystore)

	dir   string
	ca    []byte // the CA's DER and key, to sign more client certificates
	caKey *ecdsa.PrivateKey
}

// NewCerts generates the certificates (ECDSA P-256) into t.TempDir().
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	c := &Certs{dir: dir}
	p := func(name string) string { return filepath.Join(dir, name) }
	now := time.Now()
	ca, caKey := newCert(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "logcollect test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
	})
	c.CA = writePEM(t, p("ca.pem"), ca, nil)
	c.ca, c.caKey = ca, caKey
	other, _ := newCert(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "other CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
	})
	c.OtherCA = writePEM(t, p("other-ca.pem"), other, nil)

	server := func(name string, notBefore, notAfter time.Time) (cert, key, both string) {
		der, k := newCert(t, ca, caKey, &x509.Certificate{
			Subject: pkix.Name{CommonName: name}, DNSNames: []string{"localhost"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			NotBefore: notBefore, NotAfter: notAfter,
		})
		return writePEM(t, p(name+".pem"), der, nil), writePEM(t, p(name+"-key.pem"), nil, k), writePEM(t, p(name+"-keystore.pem"), der, k)
	}
	c.ServerCert, c.ServerKey, c.ServerPEM = server("server", now.Add(-time.Hour), now.Add(24*time.Hour))
	c.ExpiredCert, c.ExpiredKey, c.ExpiredPEM = server("expired", now.Add(-48*time.Hour), now.Add(-time.Hour))
	c.ClientCert, c.ClientKey = c.NewClientCert(t, "logcollect client")
	return c
}

// NewClientCert writes a client certificate signed by the CA, with the common name cn (the
// user name etcd takes from it with --client-cert-auth), and its key; it returns their paths.
func (c *Certs) NewClientCert(t testing.TB, cn string) (cert, key string) {
	t.Helper()
	now := time.Now()
	der, k := newCert(t, c.ca, c.caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: cn}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
	})
	name := "client"
	if cn != "logcollect client" {
		name = "client-" + strings.NewReplacer("/", "_", " ", "_").Replace(cn)
	}
	return writePEM(t, filepath.Join(c.dir, name+".pem"), der, nil), writePEM(t, filepath.Join(c.dir, name+"-key.pem"), nil, k)
}

// newCert creates tmpl with a new key, signed by parent (self-signed when parent is nil), and
// returns its DER and key.
func newCert(t testing.TB, parent []byte, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	signer, signerKey := tmpl, key
	if parent != nil {
		if signer, err = x509.ParseCertificate(parent); err != nil {
			t.Fatal(err)
		}
		signerKey = parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// writePEM writes the key (PKCS#8) and then the certificate, each if not nil, to path.
func writePEM(t testing.TB, path string, der []byte, key *ecdsa.PrivateKey) string {
	t.Helper()
	var out []byte
	if key != nil {
		k, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		out = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})
	}
	if der != nil {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
