package transfer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/transfer/transfertest"
)

// syncBuffer is a bytes.Buffer for a logger written from several
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dlqRecords reads every record of topic.
func dlqRecords(t *testing.T, brokers []string, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		require.NoError(t, fs.Err())
		recs = append(recs, fs.Records()...)
	}
	return recs
}

// A bulk request over Elasticsearch's http.max_content_length gets 413 for
// the whole request: it is split in halves until the parts are accepted,
// and a document too large on its own goes to the DLQ instead of blocking
// its partition with a request retried forever.
func TestTransferSplitsTooLargeRequests(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		huge    map[int]bool // records whose message alone is over the limit
		maxBody int
	}{
		{name: "split until accepted", n: 2000, maxBody: 16 << 10},
		{name: "single documents over the limit go to the DLQ", n: 1000, huge: map[int]bool{10: true, 777: true}, maxBody: 16 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			brokers := startKfake(t, 2)
			es := transfertest.NewES(t)
			es.SetMaxBody(tt.maxBody)
			topic := fmt.Sprintf("big%d", len(tt.huge))
			produceAgentRecords(t, brokers, topic, 0, tt.n, func(i int, v []byte) []byte {
				if tt.huge[i] {
					return fmt.Appendf(nil, `{"@timestamp":"2026-01-01T00:00:00Z","message":"HUGE %s"}`, strings.Repeat("x", tt.maxBody))
				}
				return v
			})
			cfg := testConfig(brokers, es.URL(), topic)
			var logs syncBuffer
			r := startTransferLog(t, cfg, &logs, slog.LevelWarn)
			want := tt.n - len(tt.huge)
			waitCount(t, es, want, 30*time.Second)
			requireAllCommitted(t, brokers, cfg.Kafka.Group, topic)
			require.Positive(t, es.TooLarge(), "requests were refused as too large")
			require.Positive(t, testutil.ToFloat64(r.tr.m.IndexErrors.WithLabelValues(topic, "request_entity_too_large")))
			require.Equal(t, float64(want), r.metric(t, "logtransfer_docs_indexed_total"))
			require.Equal(t, float64(len(tt.huge)), r.metric(t, "logtransfer_dlq_records_total"))
			require.Contains(t, logs.String(), "too large (413")
			if len(tt.huge) > 0 {
				recs := dlqRecords(t, brokers, topic+".dlq", len(tt.huge))
				require.Len(t, recs, len(tt.huge))
				for _, rec := range recs {
					require.Contains(t, string(rec.Value), "HUGE")
					h := map[string]string{}
					for _, hd := range rec.Headers {
						h[hd.Key] = string(hd.Value)
					}
					require.Equal(t, "request_entity_too_large", h["error.type"])
					require.Contains(t, h["error.reason"], "http.max_content_length")
				}
			}
		})
	}
}

// 401 and 403 from Elasticsearch are retried (dropping would lose the
// records) with es_up 0 and the failures counted, but logged once when they
// start and once when they end, not on every retry.
func TestTransferAuthFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out authentication retries")
	}
	tests := []struct {
		name      string
		status    int
		reason    string
		atStartup bool // refused from the start (template install), else mid-stream
	}{
		{"401 at startup", 401, "unauthorized", true},
		{"403 mid-stream", 403, "forbidden", false},
		{"401 mid-stream", 401, "unauthorized", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			brokers := startKfake(t, 2)
			es := transfertest.NewES(t)
			topic := fmt.Sprintf("auth%d", tt.status)
			cfg := testConfig(brokers, es.URL(), topic)
			var logs syncBuffer
			first := 0
			if tt.atStartup {
				es.SetStatus(tt.status)
			} else {
				first = 500
				produceAgentRecords(t, brokers, topic, 0, first, nil)
			}
			r := startTransferLog(t, cfg, &logs, slog.LevelInfo)
			if !tt.atStartup {
				waitCount(t, es, first, 10*time.Second)
				requireAllCommitted(t, brokers, cfg.Kafka.Group, topic)
				es.SetStatus(tt.status)
			}
			produceAgentRecords(t, brokers, topic, first, first+1500, nil)
			// Several retries (backoff 20ms up to 200ms) happen meanwhile.
			time.Sleep(1500 * time.Millisecond)
			require.Equal(t, first, es.Count(), "nothing indexed while refused")
			require.Equal(t, float64(0), r.metric(t, "logtransfer_es_up"))
			if !tt.atStartup {
				require.Positive(t, testutil.ToFloat64(r.tr.m.IndexErrors.WithLabelValues(topic, tt.reason)))
				c, e := committed(t, brokers, cfg.Kafka.Group, topic)
				require.Less(t, c[0]+c[1], e[0]+e[1], "nothing committed while refused")
			}
			require.Equal(t, 1, strings.Count(logs.String(), "refuses the credentials"), "logged once, not per retry:\n%s", logs.String())
			require.Contains(t, logs.String(), fmt.Sprintf("status=%d", tt.status))

			es.SetStatus(0)
			waitCount(t, es, first+1500, 20*time.Second)
			requireAllCommitted(t, brokers, cfg.Kafka.Group, topic)
			require.Eventually(t, func() bool { return r.metric(t, "logtransfer_es_up") == 1 }, 5*time.Second, 20*time.Millisecond)
			require.Equal(t, 1, strings.Count(logs.String(), "refuses the credentials"))
			require.Equal(t, 1, strings.Count(logs.String(), "accepts the credentials again"))
			require.Equal(t, float64(0), r.metric(t, "logtransfer_dlq_records_total"), "nothing dropped or sent to the DLQ")
		})
	}
}
