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
	"github.com/logcollect/logcollect/internal/servers"
	"github.com/logcollect/logcollect/internal/testenv"
)

// TestElasticsearchHTTPSAndAuth indexes into the real Elasticsearch node
// through nginx doing TLS (the CA given in elasticsearch.tls or the flat
// elasticsearch.ca_file) and authentication (basic auth, API key), as
// deployments front an Elasticsearch without its own security. A wrong
// password, a wrong CA or an expired certificate index nothing, leave
// logtransfer_es_up at 0, and the log names the URL and the cause.
func TestElasticsearchHTTPSAndAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an Elasticsearch node and nginx")
	}
	const password, apiKey = "es-pw-Zk29vB", "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
	certs := testenv.NewCerts(t)
	node := testenv.SharedSearchNode(t, servers.EngineElasticsearch)
	proxy := testenv.StartTLSProxy(t, testenv.TLSProxyOptions{Upstream: node.URL(), Certs: certs,
		Users: map[string]string{"elastic": password}, APIKeys: []string{apiKey}})
	brokers := startKfake(t, 1)
	es := node.Client(t)
	for _, c := range []struct {
		name, url, ca, user, password, apiKey string
		tlsBlock                              bool   // the CA in elasticsearch.tls, not the flat elasticsearch.ca_file
		wantErr                               string // "" if the records must be indexed
	}{
		{name: "basic auth", url: proxy.URL, ca: certs.CA, user: "elastic", password: password},
		{name: "tls block", url: proxy.URL, ca: certs.CA, tlsBlock: true, user: "elastic", password: password},
		{name: "tls block wrong CA", url: proxy.URL, ca: certs.OtherCA, tlsBlock: true, user: "elastic", password: password, wantErr: "certificate signed by unknown authority"},
		{name: "api key", url: proxy.URL, ca: certs.CA, apiKey: apiKey},
		{name: "wrong password", url: proxy.URL, ca: certs.CA, user: "elastic", password: "wrong-pw-7", wantErr: "401"},
		{name: "wrong api key", url: proxy.URL, ca: certs.CA, apiKey: "d3Jvbmc6a2V5", wantErr: "401"},
		{name: "wrong CA", url: proxy.URL, ca: certs.OtherCA, user: "elastic", password: password, wantErr: "certificate signed by unknown authority"},
		{name: "expired certificate", url: proxy.ExpiredURL, ca: certs.CA, user: "elastic", password: password, wantErr: "certificate has expired"},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := "es-sec-" + strings.ReplaceAll(c.name, " ", "-")
			produceAgentRecords(t, brokers, topic, 0, 100, nil)
			cfg := testConfig(brokers, c.url, topic)
			zero := 0
			cfg.Template.Replicas = &zero
			cfg.Template.Name = topic
			cfg.Index = "{topic}"
			if c.tlsBlock {
				cfg.Elasticsearch.TLS = config.TLSConfig{Enabled: true, CAFile: c.ca}
			} else {
				cfg.Elasticsearch.CAFile = c.ca
			}
			cfg.Elasticsearch.Username, cfg.Elasticsearch.Password, cfg.Elasticsearch.APIKey = c.user, c.password, c.apiKey
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
				require.Eventually(t, func() bool { return esCount(context.Background(), es, topic) == 100 }, 60*time.Second, 200*time.Millisecond)
				require.Equal(t, float64(1), r.metric(t, "logtransfer_es_up"))
				return
			}
			var line string
			require.Eventually(t, func() bool {
				for l := range strings.Lines(logs.String()) {
					if strings.Contains(l, c.wantErr) {
						line = l
						return true
					}
				}
				return false
			}, 30*time.Second, 100*time.Millisecond, "a log line with %q", c.wantErr)
			t.Logf("logged: %s", line)
			require.Contains(t, line, c.url, "the log names the URL")
			require.Zero(t, r.metric(t, "logtransfer_es_up"))
			require.NotContains(t, logs.String(), password)
			require.Equal(t, 0, max(0, esCount(context.Background(), es, topic)))
		})
	}
}
