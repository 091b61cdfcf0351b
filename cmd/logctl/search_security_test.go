package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// TestSearchHTTPSAndAuth searches through nginx doing TLS and
// authentication in front of the real Elasticsearch node: with the CA and a
// password or an API key from the environment it finds the line; a wrong
// password or a wrong CA fail with an error naming the URL and the cause,
// and never showing the password.
func TestSearchHTTPSAndAuth(t *testing.T) {
	const password, apiKey = "es-pw-LoGcTl-31", "bG9nY3RsOmtleQ=="
	certs := testenv.NewCerts(t)
	node := testenv.StartElasticsearch(t)
	proxy := testenv.StartTLSProxy(t, testenv.TLSProxyOptions{Upstream: node.URL(), Certs: certs,
		Users: map[string]string{"elastic": password}, APIKeys: []string{apiKey}})
	es := node.Client(t)
	indexLine(t, es, 1, time.Now().Add(-time.Minute).UTC(), "web-1", "GET /secure 200")
	_, err := es.Refresh().Do(context.Background())
	require.NoError(t, err)
	t.Setenv("LOGCTL_ES", proxy.URL)

	for _, c := range []struct {
		name              string
		ca, user, pw, key string
		wantOut, wantErr  string
	}{
		{name: "basic auth", ca: certs.CA, user: "elastic", pw: password, wantOut: "GET /secure 200"},
		{name: "api key", ca: certs.CA, key: apiKey, wantOut: "GET /secure 200"},
		{name: "wrong password", ca: certs.CA, user: "elastic", pw: "wrong-pw-8", wantErr: "401"},
		{name: "wrong CA", ca: certs.OtherCA, user: "elastic", pw: password, wantErr: "certificate signed by unknown authority"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("LOGCTL_ES_CA_FILE", c.ca)
			t.Setenv("LOGCTL_ES_USER", c.user)
			t.Setenv("LOGCTL_ES_PASSWORD", c.pw)
			t.Setenv("LOGCTL_ES_API_KEY", c.key)
			code, stdout, stderr := exec(t, "", "search", "secure")
			if c.wantErr == "" {
				require.Equal(t, 0, code, stderr)
				require.Contains(t, stdout, c.wantOut)
				return
			}
			require.NotEqual(t, 0, code)
			t.Logf("stderr: %s", stderr)
			require.Contains(t, stderr, proxy.URL, "the error names the URL")
			require.Contains(t, stderr, c.wantErr)
			require.NotContains(t, stderr+stdout, password)
			require.NotContains(t, stderr+stdout, c.pw)
		})
	}
}
