package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// kafkaSecurityCase is one way of connecting to a secured listener of the broker.
type kafkaSecurityCase struct {
	name     string
	listener string // see testenv.KafkaOptions
	kafka    string // YAML under kafka:, after brokers
	wantErr  string // "" if the agent must deliver, else what its log must say about the broker
}

// TestKafkaTLSAndSASL runs the agent against the real broker's SSL, mutual
// TLS and SASL_SSL listeners: it delivers with the right CA, client
// certificate and password, and with a wrong one it reports Kafka down
// (logagent_kafka_up 0) and logs why, naming the broker.
func TestKafkaTLSAndSASL(t *testing.T) {
	if testing.Short() {
		t.Skip("real broker")
	}
	certs := testenv.NewCerts(t)
	const password = "kafka-pw-Q7x9zR"
	k := testenv.StartKafkaWithOptions(t, testenv.KafkaOptions{Certs: certs, Users: map[string]string{"alice": password}})
	tls := func(ca string) string { return fmt.Sprintf("\n  tls:\n    enabled: true\n    ca_file: %s", ca) }
	mtls := tls(certs.CA) + fmt.Sprintf("\n    cert_file: %s\n    key_file: %s", certs.ClientCert, certs.ClientKey)
	sasl := func(mech, pw string) string {
		return tls(certs.CA) + fmt.Sprintf("\n  sasl:\n    mechanism: %s\n    username: alice\n    password: %q", mech, pw)
	}
	for _, c := range []kafkaSecurityCase{
		{name: "tls", listener: "SSL", kafka: tls(certs.CA)},
		{name: "mtls", listener: "MTLS", kafka: mtls},
		{name: "plain", listener: "SASL_SSL", kafka: sasl("PLAIN", password)},
		{name: "scram-sha-256", listener: "SASL_SSL", kafka: sasl("SCRAM-SHA-256", password)},
		{name: "scram-sha-512", listener: "SASL_SSL", kafka: sasl("SCRAM-SHA-512", password)},
		{name: "wrong CA", listener: "SSL", kafka: tls(certs.OtherCA), wantErr: "certificate signed by unknown authority"},
		{name: "expired certificate", listener: "EXPIRED", kafka: tls(certs.CA), wantErr: "certificate has expired"},
		{name: "no client certificate", listener: "MTLS", kafka: tls(certs.CA), wantErr: "bad certificate"},
		{name: "wrong password plain", listener: "SASL_SSL", kafka: sasl("PLAIN", "wrong-pw-1"), wantErr: "Authentication failed"},
		{name: "wrong password scram-sha-256", listener: "SASL_SSL", kafka: sasl("SCRAM-SHA-256", "wrong-pw-2"), wantErr: "Authentication failed"},
		{name: "wrong password scram-sha-512", listener: "SASL_SSL", kafka: sasl("SCRAM-SHA-512", "wrong-pw-3"), wantErr: "Authentication failed"},
	} {
		t.Run(c.name, func(t *testing.T) { testKafkaSecurity(t, k, c) })
	}
}

func testKafkaSecurity(t *testing.T, k *testenv.Kafka, c kafkaSecurityCase) {
	broker := k.Listener(c.listener)
	topic := "sec-" + strings.NewReplacer(" ", "-").Replace(c.name)
	path := filepath.Join(t.TempDir(), "app.log")
	writeLines(t, path, 0, 100)
	cfg, maddr := writeConfig(t, []string{broker}, t.TempDir(), fmt.Sprintf(`tasks:
  - path: %s
    topic: %s
    start_position: beginning
`, path, topic))
	cfg = insertKafka(t, cfg, c.kafka)
	p := startProc(t, cfg, maddr)
	if c.wantErr == "" {
		require.Eventually(t, func() bool { return p.metric("logagent_records_sent_total") == 100 }, 30*time.Second, 100*time.Millisecond)
		require.Equal(t, float64(1), p.metric("logagent_kafka_up"))
		checkDelivery(t, consume(t, k.Brokers(), topic, 100, 10*time.Second), map[string]int{"app.log": 100})
		p.stop()
		return
	}
	require.Eventually(t, func() bool { return p.metric("logagent_kafka_up") == 0 }, 30*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(p.Log(), "kafka unreachable") }, 10*time.Second, 100*time.Millisecond)
	var line string
	for l := range strings.Lines(p.Log()) {
		if strings.Contains(l, "kafka unreachable") {
			line = l
		}
	}
	require.Contains(t, line, broker, "the error names the broker")
	require.Contains(t, line, c.wantErr)
	require.Zero(t, p.metric("logagent_records_sent_total"))
	t.Logf("logged: %s", line)
	resp, err := http.Get("http://" + maddr + "/readyz")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, string(body), broker, "/readyz names the broker")
	require.Contains(t, string(body), c.wantErr)
	p.stop()
}

// insertKafka adds yaml (keys under kafka:) to the config file at path.
func insertKafka(t *testing.T, path, yaml string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := strings.Replace(string(b), "\n  linger: 5ms\n", "\n  linger: 5ms"+yaml+"\n", 1)
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
	return path
}

// TestEtcdTLSAndAuth reads the collect config from an etcd server with TLS
// and authentication on; with a wrong CA, an expired server certificate or a
// wrong password the agent reports etcd down (logagent_etcd_up 0), and its
// log and /readyz name the endpoint and the cause.
func TestEtcdTLSAndAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs logagent against a secured etcd")
	}
	certs := testenv.NewCerts(t)
	const password = "etcd-pw-Wq81Lm"
	e := testenv.StartEtcdWithOptions(t, testenv.EtcdOptions{Certs: certs, RootPassword: password})
	brokers := fakeKafka(t)
	etcdCfg := func(endpoint, ca, pw string) string {
		return fmt.Sprintf("etcd:\n  endpoints: [%s]\n  dial_timeout: 2s\n  username: root\n  password: %q\n  tls:\n    enabled: true\n    ca_file: %s\n", endpoint, pw, ca)
	}
	expired := testenv.StartEtcdWithOptions(t, testenv.EtcdOptions{Certs: &testenv.Certs{ServerCert: certs.ExpiredCert, ServerKey: certs.ExpiredKey, CA: certs.CA}})
	for _, c := range []struct {
		name, endpoint, etcd, wantErr string
	}{
		{name: "tls and password", endpoint: e.Endpoints()[0], etcd: etcdCfg(e.Endpoints()[0], certs.CA, password)},
		{name: "wrong password", endpoint: e.Endpoints()[0], etcd: etcdCfg(e.Endpoints()[0], certs.CA, "wrong-pw-6"), wantErr: "authentication failed"},
		{name: "wrong CA", endpoint: e.Endpoints()[0], etcd: etcdCfg(e.Endpoints()[0], certs.OtherCA, password), wantErr: "certificate signed by unknown authority"},
		{name: "expired certificate", endpoint: expired.Endpoints()[0], etcd: etcdCfg(expired.Endpoints()[0], certs.CA, password), wantErr: "certificate has expired"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			writeLines(t, path, 0, 50)
			key := "/logagent/127.0.0.1/collect_config"
			_, err := e.Client(t).Put(t.Context(), key, fmt.Sprintf(`[{"path": %q, "topic": "etcd-sec", "start_position": "beginning"}]`, path))
			require.NoError(t, err)
			cfg, maddr := writeConfig(t, brokers, t.TempDir(), c.etcd)
			p := startProc(t, cfg, maddr)
			if c.wantErr == "" {
				require.Eventually(t, func() bool { return p.metric("logagent_records_sent_total") == 50 }, 30*time.Second, 100*time.Millisecond)
				require.Equal(t, float64(1), p.metric("logagent_etcd_up"))
				p.stop()
				return
			}
			var line string
			require.Eventually(t, func() bool {
				for l := range strings.Lines(p.Log()) {
					if strings.Contains(l, "etcd") && strings.Contains(l, c.wantErr) {
						line = l
						return true
					}
				}
				return false
			}, 30*time.Second, 100*time.Millisecond, "a log line with %q", c.wantErr)
			t.Logf("logged: %s", line)
			require.Contains(t, line, c.endpoint, "the log names the endpoint")
			require.Zero(t, p.metric("logagent_etcd_up"))
			resp, err := http.Get("http://" + maddr + "/readyz")
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			t.Logf("/readyz: %s", body)
			require.Contains(t, string(body), c.endpoint, "/readyz names the endpoint")
			p.stop()
		})
	}
}
