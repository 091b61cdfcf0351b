package transfer

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/kafkaclient"
	"github.com/logcollect/logcollect/internal/testenv"
	"github.com/logcollect/logcollect/transfer/transfertest"
)

// TestKafkaTLSAndSASL consumes from the real broker's SSL, mutual-TLS and
// SASL_SSL listeners; with a wrong CA, an expired certificate, no client
// certificate or a wrong password nothing is consumed, kafka_up stays 0,
// and the readiness check and the log name the broker and the cause.
func TestKafkaTLSAndSASL(t *testing.T) {
	if testing.Short() {
		t.Skip("real broker")
	}
	certs := testenv.NewCerts(t)
	const password = "kafka-pw-Tr4nsf3r"
	k := testenv.StartKafkaWithOptions(t, testenv.KafkaOptions{Certs: certs, Users: map[string]string{"bob": password}})
	tlsCA := func(ca string) config.TLSConfig { return config.TLSConfig{Enabled: true, CAFile: ca} }
	mtls := tlsCA(certs.CA)
	mtls.CertFile, mtls.KeyFile = certs.ClientCert, certs.ClientKey
	sasl := func(mech, pw string) kafkaclient.SASLConfig {
		return kafkaclient.SASLConfig{Mechanism: mech, Username: "bob", Password: pw}
	}
	for _, c := range []struct {
		name, listener string
		tls            config.TLSConfig
		sasl           kafkaclient.SASLConfig
		wantErr        string // "" if the records must be indexed
	}{
		{name: "tls", listener: "SSL", tls: tlsCA(certs.CA)},
		{name: "mtls", listener: "MTLS", tls: mtls},
		{name: "plain", listener: "SASL_SSL", tls: tlsCA(certs.CA), sasl: sasl("PLAIN", password)},
		{name: "scram-sha-256", listener: "SASL_SSL", tls: tlsCA(certs.CA), sasl: sasl("SCRAM-SHA-256", password)},
		{name: "scram-sha-512", listener: "SASL_SSL", tls: tlsCA(certs.CA), sasl: sasl("SCRAM-SHA-512", password)},
		{name: "wrong CA", listener: "SSL", tls: tlsCA(certs.OtherCA), wantErr: "certificate signed by unknown authority"},
		{name: "expired certificate", listener: "EXPIRED", tls: tlsCA(certs.CA), wantErr: "certificate has expired"},
		{name: "no client certificate", listener: "MTLS", tls: tlsCA(certs.CA), wantErr: "bad certificate"},
		{name: "wrong password plain", listener: "SASL_SSL", tls: tlsCA(certs.CA), sasl: sasl("PLAIN", "wrong-pw-4"), wantErr: "Authentication failed"},
		{name: "wrong password scram-sha-512", listener: "SASL_SSL", tls: tlsCA(certs.CA), sasl: sasl("SCRAM-SHA-512", "wrong-pw-5"), wantErr: "Authentication failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := "sec-" + strings.ReplaceAll(c.name, " ", "-")
			produceAgentRecords(t, k.Brokers(), topic, 0, 200, nil)
			es := transfertest.NewES(t)
			broker := k.Listener(c.listener)
			cfg := testConfig([]string{broker}, es.URL(), topic)
			cfg.Kafka.TLS, cfg.Kafka.SASL = c.tls, c.sasl
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			reg := prometheus.NewRegistry()
			tr, err := New(cfg, log, reg)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- tr.Run(ctx) }()
			r := &running{tr: tr, reg: reg, cancel: cancel, done: done}
			defer r.stop(t)
			if c.wantErr == "" {
				waitCount(t, es, 200, 30*time.Second)
				require.Eventually(t, func() bool { return r.metric(t, "logtransfer_kafka_up") == 1 }, 10*time.Second, 50*time.Millisecond)
				return
			}
			var check error
			require.Eventually(t, func() bool {
				cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer ccancel()
				check = tr.CheckKafka(cctx)
				return check != nil && strings.Contains(check.Error(), c.wantErr)
			}, 20*time.Second, 200*time.Millisecond, "readiness check: %v", check)
			t.Logf("readiness: %v", check)
			require.Contains(t, check.Error(), broker, "the readiness error names the broker")
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), c.wantErr) }, 20*time.Second, 100*time.Millisecond)
			for l := range strings.Lines(logs.String()) {
				if strings.Contains(l, c.wantErr) {
					t.Logf("logged: %s", l)
					require.Contains(t, l, broker, "the log names the broker")
					break
				}
			}
			require.Zero(t, r.metric(t, "logtransfer_kafka_up"))
			require.Zero(t, es.Count())
		})
	}
}
