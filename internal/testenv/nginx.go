package testenv

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcollect/logcollect/internal/servers"
)

// TLSProxyOptions configure StartTLSProxy: nginx in front of an HTTP server, as deployments
// put it in front of an Elasticsearch without its own security.
type TLSProxyOptions struct {
	Upstream string            // the server's base URL, such as http://127.0.0.1:9200
	Certs    *Certs            // the server certificate; ExpiredURL serves the expired one
	Users    map[string]string // basic auth: user → password
	APIKeys  []string          // accepted as "Authorization: ApiKey KEY"
}

// TLSProxy is an nginx (Debian's nginx package) that terminates TLS and checks credentials:
// a request without an accepted Authorization header gets 401.
type TLSProxy struct {
	URL        string // https://127.0.0.1:PORT with the valid server certificate
	ExpiredURL string // the same, with the expired server certificate
	c          servers.Proc
}

// StartTLSProxy starts nginx with a config in t.TempDir() and waits until it accepts TLS
// connections. t.Cleanup stops it. Without nginx in PATH the test fails, or is skipped in a
// partial run (Missing).
func StartTLSProxy(t testing.TB, o TLSProxyOptions) *TLSProxy {
	t.Helper()
	skipShort(t, "starts nginx")
	bin := Tool(t, "nginx", "nginx")
	dir := t.TempDir()
	up, err := url.Parse(o.Upstream)
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	expiredPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	var allowed []string
	for u, pw := range o.Users {
		allowed = append(allowed, "Basic "+base64.StdEncoding.EncodeToString([]byte(u+":"+pw)))
	}
	for _, k := range o.APIKeys {
		allowed = append(allowed, "ApiKey "+k)
	}
	sort.Strings(allowed)
	var mapLines strings.Builder
	for _, a := range allowed {
		fmt.Fprintf(&mapLines, "    %q 1;\n", a)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers read the temp dirs of the test, which only root may
	}
	server := func(port int, cert, key string) string {
		return fmt.Sprintf(`  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s;
    ssl_certificate_key %s;
    location / {
      if ($authorized = 0) {
        add_header WWW-Authenticate 'Basic realm="elasticsearch"' always;
        return 401 '{"error":"unauthorized"}';
      }
      proxy_pass http://%s;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
`, port, cert, key, up.Host)
	}
	conf := fmt.Sprintf(`%[1]s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 64; }
http {
  access_log %[2]s/access.log;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  client_max_body_size 100m;
  map_hash_bucket_size 256; # keys are whole Authorization headers
  map $http_authorization $authorized {
    default 0;
%[3]s  }
%[4]s%[5]s}
`, user, dir, mapLines.String(), server(port, o.Certs.ServerCert, o.Certs.ServerKey), server(expiredPort, o.Certs.ExpiredCert, o.Certs.ExpiredKey))
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &TLSProxy{
		URL:        fmt.Sprintf("https://127.0.0.1:%d", port),
		ExpiredURL: fmt.Sprintf("https://127.0.0.1:%d", expiredPort),
		c:          servers.Proc{Name: "nginx", Noun: "server", Log: filepath.Join(dir, "error.log"), TailLines: 20},
	}
	cmd := exec.Command(bin, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", confPath, "-g", "daemon off;")
	r, err := p.c.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logFailure(t, &p.c)
		if err := p.c.Stop(syscall.SIGQUIT); err != nil {
			t.Log(err)
		}
	})
	if err := waitTLS(r, fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		t.Fatalf("nginx: %v\n%s", err, p.c.LogTail())
	}
	return p
}

// waitTLS waits until addr completes a TLS handshake, or the process exits.
func waitTLS(r *servers.Run, addr string) error {
	return r.WaitReady(context.Background(), "server", 10*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: &tls.Config{InsecureSkipVerify: true}} // only: is it up?
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}
