package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLSConfig configures a TLS client connection (to Kafka or etcd), under a
// tls: key of the config file.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`     // PEM CA bundle; empty: the system roots
	CertFile           string `yaml:"cert_file"`   // PEM client certificate, with key_file
	KeyFile            string `yaml:"key_file"`    // PEM client key, with cert_file
	ServerName         string `yaml:"server_name"` // empty: the host being dialled
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Build returns the tls.Config to dial with, or nil and no error when TLS is
// not enabled. It reads the CA, certificate and key files; errors name the
// file.
func (t TLSConfig) Build() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, // the user's explicit choice
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		if t.CertFile == "" || t.KeyFile == "" {
			return nil, fmt.Errorf("cert_file %q and key_file %q: set both or neither", t.CertFile, t.KeyFile)
		}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load cert_file %s and key_file %s: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Validate checks t without reading any file and adds what is wrong to errs;
// prefix is the field path, such as "kafka.tls".
func (t TLSConfig) Validate(prefix string, errs *Errors) {
	if t.Enabled {
		if (t.CertFile == "") != (t.KeyFile == "") {
			errs.Addf(prefix+".cert_file", "cert_file and key_file must be set together")
		}
		return
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"ca_file", t.CAFile != ""},
		{"cert_file", t.CertFile != ""},
		{"key_file", t.KeyFile != ""},
		{"server_name", t.ServerName != ""},
		{"insecure_skip_verify", t.InsecureSkipVerify},
	} {
		if f.set {
			errs.Addf(prefix+"."+f.name, "set but %s.enabled is false", prefix)
		}
	}
}
