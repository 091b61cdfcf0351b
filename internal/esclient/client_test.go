package esclient

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/config"
)

// TestNewTLS: the server's CA given in tls.ca_file or the flat ca_file is
// trusted; without it the certificate is refused; a missing CA file is an
// error of New naming the file; credentials are sent.
func TestNewTLS(t *testing.T) {
	var gotAuth string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"version":{"number":"7.17.0"},"tagline":"You Know, for Search"}`))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "tls block", cfg: Config{TLS: config.TLSConfig{Enabled: true, CAFile: ca}, Username: "u", Password: "p"}},
		{name: "flat ca_file", cfg: Config{CAFile: ca, APIKey: "a2V5"}},
		{name: "no CA", cfg: Config{}, wantErr: "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.URLs = []string{srv.URL}
			tt.cfg.Timeout = config.Duration(5 * time.Second)
			var errs config.Errors
			tt.cfg.Validate("elasticsearch", &errs)
			require.NoError(t, errs.Err())
			es, err := New(tt.cfg)
			require.NoError(t, err)
			_, _, err = es.Ping(srv.URL).Do(context.Background())
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if tt.cfg.APIKey != "" {
				require.Equal(t, "ApiKey a2V5", gotAuth)
			} else {
				require.Equal(t, "Basic dTpw", gotAuth)
			}
		})
	}

	_, err := New(Config{URLs: []string{srv.URL}, TLS: config.TLSConfig{Enabled: true, CAFile: filepath.Join(t.TempDir(), "missing.pem")}})
	require.ErrorContains(t, err, "missing.pem")
}

// With several URLs, a request that cannot reach its node goes to the next one at once: every
// request succeeds while one node of three is down. With one URL, the error is the caller's.
func TestFailover(t *testing.T) {
	var hits [2]atomic.Int32
	srvs := make([]*httptest.Server, 2)
	for i := range srvs {
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			hits[i].Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"count":1}`)
		}))
		t.Cleanup(srvs[i].Close)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // connection refused from now on

	ctx := context.Background()
	es, err := New(Config{URLs: []string{downURL, srvs[0].URL, srvs[1].URL}, Timeout: config.Duration(5 * time.Second)})
	require.NoError(t, err)
	for range 6 {
		_, err := es.Count("x").Do(ctx)
		require.NoError(t, err)
	}
	require.EqualValues(t, 6, hits[0].Load()+hits[1].Load())
	require.Positive(t, hits[0].Load())
	require.Positive(t, hits[1].Load(), "round robin over the live nodes")

	one, err := New(Config{URLs: []string{downURL}, Timeout: config.Duration(5 * time.Second)})
	require.NoError(t, err)
	_, err = one.Count("x").Do(ctx)
	require.ErrorContains(t, err, "connection refused")
}
