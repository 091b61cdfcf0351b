package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// TestSecretsNeverShown gives sysmon a distinctive InfluxDB token through
// ${file:...} and through the environment, runs -check-config and then a
// few seconds with debug logging against an InfluxDB that refuses the
// token, and checks that it appears in no output, /metrics or /readyz.
func TestSecretsNeverShown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sysmon for seconds")
	}
	const fileToken, envToken = "SECRET-influx-file-3b9e", "SECRET-influx-env-d7a0"
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(fileToken+"\n"), 0o600))
	t.Setenv("TEST_INFLUX_TOKEN", envToken)
	var (
		mu  sync.Mutex
		got []string // the Authorization headers InfluxDB received
	)
	influx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, `{"code":"unauthorized","message":"unauthorized access"}`, http.StatusUnauthorized)
	}))
	t.Cleanup(influx.Close)

	for _, token := range []string{"${file:" + tokenFile + "}", "${TEST_INFLUX_TOKEN}"} {
		maddr := testenv.FreeAddr(t)
		path := filepath.Join(t.TempDir(), "sysmon.yaml")
		require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`interval: 1s
influx:
  url: %s
  bucket: telegraf
  token: "%s"
metrics:
  listen: %s
log:
  level: debug
`, influx.URL, token, maddr)), 0o600))
		cmd := exec.Command(os.Args[0], "-check-config", "-config", path)
		cmd.Env = append(os.Environ(), "SYSMON_CHILD=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		requireNoSecret(t, "-check-config", string(out), fileToken, envToken)

		p := &sysmonProc{Self: testenv.StartSelf(t, "SYSMON_CHILD", 0, "-config", path), t: t, metrics: maddr}
		testenv.WaitHealthy(t, maddr)
		require.Eventually(t, func() bool { return p.scrape()["sysmon_points_dropped_total"] > 0 }, 20*time.Second, 100*time.Millisecond, "InfluxDB refused the token")
		for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
			resp, err := http.Get("http://" + maddr + path)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			requireNoSecret(t, path, string(body), fileToken, envToken)
		}
		p.stop()
		requireNoSecret(t, "the log", p.Log(), fileToken, envToken)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, strings.Join(got, " "), fileToken, "the token from the file was sent")
	require.Contains(t, strings.Join(got, " "), envToken, "the token from the environment was sent")
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
