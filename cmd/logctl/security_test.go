package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/testenv"
)

// secureCase is one run of logctl against a secured server: its environment, and the
// output wanted or the error (which must also name the address, and never show a password).
type secureCase struct {
	name    string
	env     map[string]string
	addr    string // the endpoint or broker the error must name
	wantOut string
	wantErr string // a regexp
}

func runSecure(t *testing.T, c secureCase, secrets []string, args ...string) {
	t.Helper()
	for k, v := range c.env {
		t.Setenv(k, v)
	}
	code, stdout, stderr := exec(t, "", args...)
	if c.wantErr == "" {
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, c.wantOut)
		return
	}
	t.Logf("stderr: %s", stderr)
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, c.addr, "the error names the address")
	require.Regexp(t, c.wantErr, stderr)
	for _, s := range secrets {
		require.NotContains(t, stderr+stdout, s)
	}
}

// TestEtcdTLSAndAuth reads a collect config from real etcd servers with TLS and
// authentication, and with mutual TLS, using the agent's etcd client; a wrong CA, a wrong
// password or a missing client certificate fail with an error naming the endpoint.
func TestEtcdTLSAndAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs logctl against a secured etcd")
	}
	certs := testenv.NewCerts(t)
	const password = "etcd-pw-LoGcTl-77"
	const value = `[{"path": "/var/log/secure.log", "topic": "secure"}]`
	e := testenv.StartEtcdWithOptions(t, testenv.EtcdOptions{Certs: certs, RootPassword: password})
	m := testenv.StartEtcdWithOptions(t, testenv.EtcdOptions{Certs: certs, ClientCertAuth: true})
	for _, s := range []*testenv.Etcd{e, m} {
		_, err := s.Client(t).Put(t.Context(), "/logagent/127.0.0.1/collect_config", value)
		require.NoError(t, err)
	}
	auth := func(endpoint, ca, user, pw string) map[string]string {
		return map[string]string{"LOGCTL_ETCD": endpoint, "LOGCTL_ETCD_CA_FILE": ca, "LOGCTL_ETCD_USER": user, "LOGCTL_ETCD_PASSWORD": pw,
			"LOGCTL_ETCD_CERT_FILE": "", "LOGCTL_ETCD_KEY_FILE": ""}
	}
	mtls := func(cert, key string) map[string]string {
		env := auth(m.Endpoints()[0], certs.CA, "", "")
		env["LOGCTL_ETCD_CERT_FILE"], env["LOGCTL_ETCD_KEY_FILE"] = cert, key
		return env
	}
	ep, mep := e.Endpoints()[0], m.Endpoints()[0]
	for _, c := range []secureCase{
		{name: "tls and password", env: auth(ep, certs.CA, "root", password), wantOut: "/var/log/secure.log"},
		{name: "mtls", env: mtls(certs.ClientCert, certs.ClientKey), wantOut: "/var/log/secure.log"},
		{name: "wrong password", env: auth(ep, certs.CA, "root", "wrong-pw-9"), addr: ep, wantErr: "authentication failed"},
		{name: "wrong CA", env: auth(ep, certs.OtherCA, "root", password), addr: ep, wantErr: "certificate signed by unknown authority"},
		// With TLS 1.3 the server refuses a missing client certificate after the handshake:
		// the etcd client (the agent's) reports the alert, or, when the request's deadline
		// comes first, only the deadline.
		{name: "no client certificate", env: mtls("", ""), addr: mep, wantErr: "tls: certificate required|context deadline exceeded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			runSecure(t, c, []string{password, "wrong-pw-9"}, "config", "get", "127.0.0.1", "--timeout", "5s")
		})
	}
}

// TestLagKafkaTLSAndSASL runs `logctl lag` against the real broker's SSL, mutual TLS and
// SASL_SSL listeners with the agent's Kafka client options: the lag is read with the right
// CA, certificate and password; a wrong CA, a missing client certificate or a wrong password
// fail with an error naming the broker.
func TestLagKafkaTLSAndSASL(t *testing.T) {
	if testing.Short() {
		t.Skip("real broker")
	}
	certs := testenv.NewCerts(t)
	const password = "kafka-pw-LoGcTl-42"
	k := testenv.StartKafkaWithOptions(t, testenv.KafkaOptions{Certs: certs, Users: map[string]string{"carol": password}})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...), kgo.DefaultProduceTopic("secure"), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer cl.Close()
	for range 5 {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte("line")}).FirstErr())
	}
	adm := kadm.NewClient(cl)
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "secure", Partition: 0, At: 2, LeaderEpoch: -1})
	resp, err := adm.CommitOffsets(ctx, "logtransfer", offs)
	require.NoError(t, err)
	require.NoError(t, resp.Error())

	env := func(listener, ca, cert, key, mech, pw string) map[string]string {
		user := ""
		if mech != "" {
			user = "carol"
		}
		return map[string]string{"LOGCTL_BROKERS": k.Listener(listener), "LOGCTL_KAFKA_CA_FILE": ca,
			"LOGCTL_KAFKA_CERT_FILE": cert, "LOGCTL_KAFKA_KEY_FILE": key,
			"LOGCTL_KAFKA_SASL": mech, "LOGCTL_KAFKA_USER": user, "LOGCTL_KAFKA_PASSWORD": pw}
	}
	const want = "total lag 3"
	for _, c := range []secureCase{
		{name: "tls", env: env("SSL", certs.CA, "", "", "", ""), wantOut: want},
		{name: "mtls", env: env("MTLS", certs.CA, certs.ClientCert, certs.ClientKey, "", ""), wantOut: want},
		{name: "plain", env: env("SASL_SSL", certs.CA, "", "", "PLAIN", password), wantOut: want},
		{name: "scram-sha-256", env: env("SASL_SSL", certs.CA, "", "", "SCRAM-SHA-256", password), wantOut: want},
		{name: "scram-sha-512", env: env("SASL_SSL", certs.CA, "", "", "SCRAM-SHA-512", password), wantOut: want},
		{name: "wrong CA", env: env("SSL", certs.OtherCA, "", "", "", ""), addr: k.Listener("SSL"), wantErr: "certificate signed by unknown authority"},
		{name: "no client certificate", env: env("MTLS", certs.CA, "", "", "", ""), addr: k.Listener("MTLS"), wantErr: "certificate"},
		{name: "wrong password", env: env("SASL_SSL", certs.CA, "", "", "SCRAM-SHA-512", "wrong-pw-7"), addr: k.Listener("SASL_SSL"), wantErr: "Authentication failed"},
		{name: "unknown mechanism", env: env("SASL_SSL", certs.CA, "", "", "GSSAPI", password), addr: k.Listener("SASL_SSL"), wantErr: "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
	} {
		t.Run(c.name, func(t *testing.T) {
			runSecure(t, c, []string{password, "wrong-pw-7"}, "lag", "--timeout", "5s")
		})
	}
}
