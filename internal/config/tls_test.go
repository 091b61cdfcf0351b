package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTLSConfigBuild(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestCert(t, dir)
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name      string
		cfg       TLSConfig
		wantNil   bool
		wantErr   string
		wantCA    bool
		wantCerts int
	}{
		{name: "disabled", cfg: TLSConfig{CAFile: missing}, wantNil: true},
		{name: "enabled, system roots", cfg: TLSConfig{Enabled: true, ServerName: "kafka.internal"}},
		{name: "ca file", cfg: TLSConfig{Enabled: true, CAFile: caFile}, wantCA: true},
		{name: "client certificate", cfg: TLSConfig{Enabled: true, CAFile: caFile, CertFile: certFile, KeyFile: keyFile}, wantCA: true, wantCerts: 1},
		{name: "missing ca file", cfg: TLSConfig{Enabled: true, CAFile: missing}, wantErr: "read ca_file: open " + missing},
		{name: "ca file without certificate", cfg: TLSConfig{Enabled: true, CAFile: notPEM}, wantErr: "ca_file " + notPEM + ": no PEM certificate found"},
		{name: "cert without key", cfg: TLSConfig{Enabled: true, CertFile: certFile}, wantErr: "set both or neither"},
		{name: "missing key file", cfg: TLSConfig{Enabled: true, CertFile: certFile, KeyFile: missing}, wantErr: "load cert_file " + certFile + " and key_file " + missing},
		{name: "key is not a key", cfg: TLSConfig{Enabled: true, CertFile: certFile, KeyFile: certFile}, wantErr: "load cert_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.Build()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			if tt.wantNil {
				require.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			require.Equal(t, uint16(tls.VersionTLS12), got.MinVersion)
			require.Equal(t, tt.cfg.ServerName, got.ServerName)
			require.Equal(t, tt.wantCA, got.RootCAs != nil)
			require.Len(t, got.Certificates, tt.wantCerts)
		})
	}
}

func TestTLSConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  TLSConfig
		want []string
	}{
		{name: "disabled and empty", cfg: TLSConfig{}},
		{name: "enabled with client certificate", cfg: TLSConfig{Enabled: true, CertFile: "c", KeyFile: "k"}},
		{name: "cert without key", cfg: TLSConfig{Enabled: true, CertFile: "c"}, want: []string{"kafka.tls.cert_file: cert_file and key_file must be set together"}},
		{name: "options without enabled", cfg: TLSConfig{CAFile: "ca", InsecureSkipVerify: true}, want: []string{
			"kafka.tls.ca_file: set but kafka.tls.enabled is false",
			"kafka.tls.insecure_skip_verify: set but kafka.tls.enabled is false",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs Errors
			tt.cfg.Validate("kafka.tls", &errs)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// writeTestCert writes a self-signed CA certificate, and a client certificate
// and key signed by it, as PEM files in dir.
func writeTestCert(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "logagent"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)

	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("client.pem", "CERTIFICATE", der), write("client-key.pem", "EC PRIVATE KEY", keyDER)
}
