package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
	"github.com/logcollect/logcollect/transfer/transfertest"
)

// TestSecretsNeverShown gives logtransfer distinctive secrets through the
// environment and through ${file:...} (Kafka SASL password, etcd password,
// Elasticsearch password and API key), runs -check-config and then a few
// seconds with debug logging against servers that refuse them, and checks
// that no secret appears in any output, /metrics or /readyz.
func TestSecretsNeverShown(t *testing.T) {
	const kafkaPW, etcdPW, esPW, apiKey, urlPW = "SECRET-kafka-71be", "SECRET-etcd-0f3a", "SECRET-es-9e2d", "SECRET-apikey-44c1", "SECRET-url-6b0e"
	dir := t.TempDir()
	etcdFile, keyFile := filepath.Join(dir, "etcd_password"), filepath.Join(dir, "api_key")
	require.NoError(t, os.WriteFile(etcdFile, []byte(etcdPW+"\n"), 0o600))
	require.NoError(t, os.WriteFile(keyFile, []byte(apiKey), 0o600))
	t.Setenv("TEST_KAFKA_PASSWORD", kafkaPW)
	t.Setenv("TEST_ES_PASSWORD", esPW)
	secrets := []string{kafkaPW, etcdPW, esPW, apiKey, urlPW}

	e := testenv.StartEtcdWithOptions(t, testenv.EtcdOptions{RootPassword: "another-password"}) // etcd refuses etcdPW
	es := transfertest.NewES(t)
	cfg, maddr := writeConfig(t, startKfake(t, 1), es.URL(), "secrets") // kfake has no SASL: the handshake fails
	b, err := os.ReadFile(cfg)
	require.NoError(t, err)
	extra := fmt.Sprintf(`  sasl:
    mechanism: PLAIN
    username: transfer
    password: "${TEST_KAFKA_PASSWORD}"
etcd:
  endpoints: [%s]
  username: root
  password: "${file:%s}"
`, e.Endpoints()[0], etcdFile)
	s := strings.Replace(string(b), "  session_timeout: 1500ms\n", "  session_timeout: 1500ms\n"+extra, 1)
	s = strings.Replace(s, "level: info", "level: debug", 1)
	// The API key, the password, or the password in the URL: one config each.
	inURL := filepath.Join(dir, "url.yaml")
	require.NoError(t, os.WriteFile(inURL, []byte(strings.Replace(s, es.URL(), strings.Replace(es.URL(), "http://", "http://elastic:"+urlPW+"@", 1), 1)), 0o600))
	basic := filepath.Join(dir, "basic.yaml")
	require.NoError(t, os.WriteFile(basic, []byte(strings.Replace(s, "elasticsearch:\n", "elasticsearch:\n  username: elastic\n  password: \"${TEST_ES_PASSWORD}\"\n", 1)), 0o600))
	require.NoError(t, os.WriteFile(cfg, []byte(strings.Replace(s, "elasticsearch:\n", "elasticsearch:\n  api_key: \"${file:"+keyFile+"}\"\n", 1)), 0o600))

	for _, path := range []string{cfg, basic, inURL} {
		cmd := exec.Command(os.Args[0], "-check-config", "-config", path)
		cmd.Env = append(os.Environ(), "LOGTRANSFER_CHILD=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		requireNoSecret(t, "-check-config", string(out), secrets...)
	}

	for _, path := range []string{cfg, basic, inURL} {
		p := startProc(t, path, maddr)
		require.Eventually(t, func() bool { return strings.Contains(p.Log(), "authentication failed") }, 20*time.Second, 100*time.Millisecond, "etcd refused the password")
		require.Eventually(t, func() bool { return strings.Contains(p.Log(), "sasl") }, 20*time.Second, 100*time.Millisecond, "Kafka refused SASL")
		for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
			requireNoSecret(t, path, p.body(path), secrets...)
		}
		p.stop()
		log := p.Log()
		require.Contains(t, log, "level=DEBUG", "debug logging is on")
		requireNoSecret(t, "the log", log, secrets...)
	}
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
