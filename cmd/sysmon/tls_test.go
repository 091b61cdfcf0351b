package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// TestInfluxTLS runs sysmon against a real InfluxDB 1.8 serving HTTPS only, with
// authentication on and the token ("user:password") from ${file:...}: a CA file, with and
// without a client certificate, and insecure_skip_verify write; a wrong CA fails with an
// error naming the endpoint and what to check. The password is in no output, /metrics,
// /readyz or -check-config.
func TestInfluxTLS(t *testing.T) {
	const password = "SECRET-influx-tls-8e2d"
	certs := testenv.NewCerts(t)
	i := testenv.StartInfluxTLS(t, certs, "admin", password)
	require.NoError(t, i.CreateDatabase("telegraf"))
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("admin:"+password+"\n"), 0o600))

	tests := []struct {
		name    string
		tls     string // the influx.tls section's keys
		ok      bool
		wantLog string
	}{
		{name: "ca file", tls: "ca_file: " + certs.CA, ok: true},
		{name: "ca file and client certificate", tls: fmt.Sprintf("ca_file: %s\n    cert_file: %s\n    key_file: %s", certs.CA, certs.ClientCert, certs.ClientKey), ok: true},
		{name: "insecure_skip_verify", tls: "insecure_skip_verify: true", ok: true,
			wantLog: "influx.tls.insecure_skip_verify is set: InfluxDB's certificate is not verified"},
		{name: "wrong ca", tls: "ca_file: " + certs.OtherCA,
			wantLog: "InfluxDB's certificate is not signed by a CA in influx.tls.ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maddr := testenv.FreeAddr(t)
			path := filepath.Join(t.TempDir(), "sysmon.yaml")
			require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`interval: 1s
host: e2e-host
influx:
  url: %s
  bucket: telegraf/autogen
  token: "${file:%s}"
  max_retry_delay: 1s
  tls:
    enabled: true
    %s
net:
  interfaces: ["*"]
metrics:
  listen: %s
log:
  level: debug
`, i.URL(), tokenFile, tt.tls, maddr)), 0o600))
			cmd := exec.Command(os.Args[0], "-check-config", "-config", path)
			cmd.Env = append(os.Environ(), "SYSMON_CHILD=1")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Contains(t, string(out), "config ok: influx "+i.URL())
			requireNoSecret(t, "-check-config", string(out), password)

			p := &sysmonProc{Self: testenv.StartSelf(t, "SYSMON_CHILD", 0, "-config", path), t: t, metrics: maddr}
			testenv.WaitHealthy(t, maddr)
			if tt.ok {
				require.Eventually(t, func() bool { return p.scrape()["sysmon_points_written_total"] > 0 }, 15*time.Second, 100*time.Millisecond)
			} else {
				require.Eventually(t, func() bool { return p.scrape()["sysmon_write_errors_total"] > 0 }, 15*time.Second, 100*time.Millisecond)
				require.Zero(t, p.scrape()["sysmon_points_written_total"])
			}
			resp, err := http.Get("http://" + maddr + "/readyz")
			require.NoError(t, err)
			ready, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			if tt.ok {
				require.Equal(t, http.StatusOK, resp.StatusCode, string(ready))
			} else {
				require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
				require.Contains(t, string(ready), "influx: influx "+i.URL()+": ", "the error names the endpoint")
				require.Contains(t, string(ready), "certificate signed by unknown authority")
				require.Contains(t, string(ready), tt.wantLog)
			}
			metrics, err := http.Get("http://" + maddr + "/metrics")
			require.NoError(t, err)
			body, err := io.ReadAll(metrics.Body)
			metrics.Body.Close()
			require.NoError(t, err)
			requireNoSecret(t, "/readyz", string(ready), password)
			requireNoSecret(t, "/metrics", string(body), password)

			p.stop()
			log := p.Log()
			requireNoSecret(t, "the log", log, password)
			if tt.wantLog != "" {
				require.Contains(t, log, tt.wantLog)
			}
			if !tt.ok {
				require.Contains(t, log, i.URL()+"/api/v2/write", "the write error names the endpoint")
			}
		})
	}
	require.Positive(t, countProcesses(t, i, "telegraf"))
}
