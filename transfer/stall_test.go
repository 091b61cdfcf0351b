package transfer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/transfer/transfertest"
)

// The stall tracker counts stalled partitions by reason, reports the
// longest stall, and logs a partition once it has been stalled a while,
// again only after stallLogEvery (or when its reason changes), and once
// when it flows again; two holds on one partition release it only when
// both are done.
func TestStalls(t *testing.T) {
	defer setStallLog(t, 10*time.Second, time.Minute)()
	var logs syncBuffer
	m := NewMetrics(prometheus.NewRegistry())
	s := newStalls(slog.New(slog.NewTextHandler(&logs, nil)), m)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	p0, p1 := partition{"web", 0}, partition{"web", 1}
	count := func(reason string) float64 { return testutil.ToFloat64(m.StalledPartitions.WithLabelValues(reason)) }
	secs := func(reason string) float64 { return testutil.ToFloat64(m.StallSeconds.WithLabelValues(reason)) }

	a, b := s.hold(), s.hold()
	a.set(map[partition]string{p0: stallES5xx, p1: stallES5xx})
	require.Equal(t, float64(2), count(stallES5xx))
	require.Empty(t, logs.String(), "not logged at once: a retry or two are routine")

	for range 100 { // retries every 100ms for 10s: one line
		clock = clock.Add(100 * time.Millisecond)
		a.set(map[partition]string{p0: stallES5xx, p1: stallES5xx})
	}
	require.Equal(t, 2, strings.Count(logs.String(), "partition stalled"), logs.String())
	require.Contains(t, logs.String(), "topic=web partition=0 reason=es_5xx stalled_for=10s")
	require.Equal(t, float64(10), secs(stallES5xx))

	// p1 went through; p0 now waits for a block, which is logged at once.
	b.set(map[partition]string{p0: stallIndexBlocked})
	a.set(map[partition]string{p0: stallIndexBlocked})
	require.Equal(t, float64(0), count(stallES5xx))
	require.Equal(t, float64(1), count(stallIndexBlocked))
	require.Equal(t, 1, strings.Count(logs.String(), "partition flows again"), "p1")
	require.Equal(t, 1, strings.Count(logs.String(), "reason=index_blocked stalled_for=10s"))

	clock = clock.Add(30 * time.Second)
	a.set(map[partition]string{p0: stallIndexBlocked})
	s.refresh()
	require.Equal(t, float64(40), secs(stallIndexBlocked))
	require.Equal(t, 1, strings.Count(logs.String(), "reason=index_blocked"), "not again within a minute")
	clock = clock.Add(30 * time.Second)
	a.set(map[partition]string{p0: stallIndexBlocked})
	require.Equal(t, 1, strings.Count(logs.String(), "reason=index_blocked stalled_for=1m10s"), "again after a minute")

	a.release()
	require.Equal(t, float64(1), count(stallIndexBlocked), "b still holds p0")
	b.release()
	require.Equal(t, float64(0), count(stallIndexBlocked))
	require.Equal(t, float64(0), secs(stallIndexBlocked))
	require.Equal(t, 2, strings.Count(logs.String(), "partition flows again"))
	require.Contains(t, logs.String(), "partition flows again\" topic=web partition=0 reason=index_blocked stalled_for=1m10s")
}

// A document that keeps getting 5xx stalls its partition, and so does a
// dead-letter topic Kafka does not take: the stall is visible (metric by
// reason, a log line naming topic, partition and reason, once, not per
// retry) and nothing is dropped or committed past it; when the fault
// ends, everything is indexed (or dead-lettered) and committed.
func TestTransferStallSignal(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		fault  func(t *testing.T, es *transfertest.ES, adm *kadm.Client, topic string) (heal func())
		dlq    int // records in the DLQ at the end
	}{
		{
			name:   "document answered 503",
			reason: stallES5xx,
			fault: func(_ *testing.T, es *transfertest.ES, _ *kadm.Client, _ string) func() {
				es.SetItem(func(_, _ string, doc []byte) (int, string) {
					if strings.Contains(string(doc), "line 00000042") {
						return 503, "unavailable_shards_exception"
					}
					return 0, ""
				})
				return func() { es.SetItem(nil) }
			},
		},
		{
			name:   "DLQ topic cannot be produced to",
			reason: stallDLQUnavailable,
			fault: func(t *testing.T, es *transfertest.ES, adm *kadm.Client, topic string) func() {
				es.SetItem(func(_, _ string, doc []byte) (int, string) {
					if strings.Contains(string(doc), "line 00000042") {
						return 400, "mapper_parsing_exception"
					}
					return 0, ""
				})
				return func() { // the DLQ topic exists at last
					_, err := adm.CreateTopic(context.Background(), 1, 1, nil, topic+".dlq")
					require.NoError(t, err)
				}
			},
			dlq: 1,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer setStallLog(t, 200*time.Millisecond, time.Hour)()
			// No automatic topic creation: the DLQ topic does not exist.
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(2))
			require.NoError(t, err)
			t.Cleanup(c.Close)
			brokers := c.ListenAddrs()
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
			require.NoError(t, err)
			t.Cleanup(cl.Close)
			adm := kadm.NewClient(cl)
			topic := fmt.Sprintf("stall%d", i)
			_, err = adm.CreateTopic(context.Background(), 2, 1, nil, topic)
			require.NoError(t, err)

			es := transfertest.NewES(t)
			heal := tt.fault(t, es, adm, topic)
			const n = 300
			produceAgentRecords(t, brokers, topic, 0, n, nil)
			cfg := testConfig(brokers, es.URL(), topic)
			var logs syncBuffer
			r := startTransferLog(t, cfg, &logs, slog.LevelInfo)
			stalled := func() float64 { return testutil.ToFloat64(r.tr.m.StalledPartitions.WithLabelValues(tt.reason)) }
			require.Eventually(t, func() bool { return stalled() == 1 }, 20*time.Second, 20*time.Millisecond, "one partition stalled: %s", tt.reason)
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), "partition stalled") }, 10*time.Second, 20*time.Millisecond, "%s", &logs)
			// Many retries (20ms up to 200ms) later, still one line.
			require.Eventually(t, func() bool { return testutil.ToFloat64(r.tr.m.StallSeconds.WithLabelValues(tt.reason)) >= 2 }, 10*time.Second, 20*time.Millisecond)
			require.Equal(t, 1, strings.Count(logs.String(), "partition stalled"), logs.String())
			require.Regexp(t, `partition stalled.* topic=`+topic+` partition=\d reason=`+tt.reason, logs.String())
			require.Equal(t, float64(0), r.metric(t, "logtransfer_dlq_records_total"))
			cm, e := committed(t, brokers, cfg.Kafka.Group, topic)
			require.Less(t, cm[0]+cm[1], e[0]+e[1], "the stalled record and those after it are not committed")

			heal()
			waitCount(t, es, n-tt.dlq, 20*time.Second)
			requireAllCommitted(t, brokers, cfg.Kafka.Group, topic)
			require.Equal(t, float64(tt.dlq), r.metric(t, "logtransfer_dlq_records_total"))
			require.Eventually(t, func() bool { return stalled() == 0 }, 5*time.Second, 20*time.Millisecond)
			require.Equal(t, 1, strings.Count(logs.String(), "partition flows again"), logs.String())
			if tt.dlq > 0 {
				require.Len(t, dlqRecords(t, brokers, topic+".dlq", tt.dlq), tt.dlq)
			}
		})
	}
}
