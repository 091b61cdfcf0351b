package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// TestSecretsNeverShown gives the agent distinctive secrets through the
// environment and through ${file:...} (Kafka SASL password, etcd password,
// InfluxDB token of the embedded sysmon), runs -check-config and then runs
// with debug logging against servers that refuse or ignore them until Kafka
// was found unreachable and two sysmon writes failed, and checks that no secret appears in any output, /metrics or /readyz.
func TestSecretsNeverShown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs logagent against a secured etcd")
	}
	const kafkaPW, etcdPW, influxToken = "SECRET-kafka-8d1f", "SECRET-etcd-55ac", "SECRET-influx-c0de"
	dir := t.TempDir()
	etcdFile := filepath.Join(dir, "etcd_password")
	require.NoError(t, os.WriteFile(etcdFile, []byte(etcdPW+"\n"), 0o600))
	t.Setenv("TEST_KAFKA_PASSWORD", kafkaPW)
	t.Setenv("TEST_INFLUX_TOKEN", influxToken)

	e := testenv.StartEtcdWithOptions(t, testenv.EtcdOptions{RootPassword: etcdPW})
	brokers := fakeKafka(t)       // no SASL: the handshake fails, and is logged
	influx := testenv.FreeAddr(t) // nothing listens: writes fail, and are logged
	cfg, maddr := writeConfig(t, brokers, t.TempDir(), fmt.Sprintf(`etcd:
  endpoints: [%s]
  username: root
  password: "${file:%s}"
sysmon:
  interval: 1s
  influx:
    url: http://%s
    bucket: telegraf
    token: "${TEST_INFLUX_TOKEN}"
`, e.Endpoints()[0], etcdFile, influx))
	cfg = insertKafka(t, cfg, "\n  sasl:\n    mechanism: SCRAM-SHA-512\n    username: agent\n    password: \"${TEST_KAFKA_PASSWORD}\"")

	cmd := exec.Command(os.Args[0], "-check-config", "-config", cfg)
	cmd.Env = append(os.Environ(), "LOGAGENT_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	requireNoSecret(t, "-check-config", string(out), kafkaPW, etcdPW, influxToken)

	p := startProc(t, cfg, maddr)
	require.Eventually(t, func() bool { return strings.Contains(p.Log(), "kafka unreachable") }, 20*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool { return p.metric("sysmon_write_errors_total") >= 2 }, 30*time.Second, 100*time.Millisecond,
		"a few sysmon writes fail (and are logged)")
	for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
		resp, err := http.Get("http://" + maddr + path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		requireNoSecret(t, path, string(body), kafkaPW, etcdPW, influxToken)
	}
	p.stop()
	log := p.Log()
	require.Contains(t, log, "level=DEBUG", "debug logging is on")
	requireNoSecret(t, "the log", log, kafkaPW, etcdPW, influxToken)
}

// requireNoSecret fails if text holds any of the secrets.
func requireNoSecret(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if i := strings.Index(text, s); i >= 0 {
			t.Errorf("%s shows the secret %q: ...%s...", where, s, text[max(0, i-200):min(len(text), i+len(s)+50)])
		}
	}
	require.False(t, t.Failed())
}
