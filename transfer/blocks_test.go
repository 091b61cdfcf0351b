package transfer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// A write-blocked or read-only index (as operators and lifecycle tools make
// one during shrink, force-merge or restore, or the flood-stage watermark
// does) is the index's state, not the documents' fault: against a real
// Elasticsearch 7 node, records produced while it is blocked wait (nothing
// in the DLQ, nothing committed, the partitions reported stalled with the
// block's reason), and once the block is lifted all are indexed: 0 lost, 0
// in the DLQ. A cluster-wide read-only block (a request-level 403) is
// retried the same way and not taken for refused credentials.
func TestRealElasticsearchBlockedIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an Elasticsearch node")
	}
	defer setStallLog(t, 300*time.Millisecond, time.Hour)()
	node := testenv.StartElasticsearch(t)
	ctx := context.Background()
	es := node.Client(t)

	tests := []struct {
		name       string
		block      func(index string) error // sets the block
		unblock    func(index string) error
		reason     string // stall reason
		indexLevel bool   // the block is on the index (else the cluster)
	}{
		{name: "index.blocks.write", reason: stallIndexBlocked, indexLevel: true},
		{name: "index.blocks.read_only", reason: stallIndexBlocked, indexLevel: true},
		{name: "index.blocks.read_only_allow_delete", reason: stallDiskWatermark, indexLevel: true},
		{name: "cluster.blocks.read_only", reason: stallIndexBlocked},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setBlock := func(on bool) {
				v := "null"
				if on {
					v = "true"
				}
				body := fmt.Sprintf(`{%q:%s}`, tt.name, v)
				if tt.indexLevel {
					_, err := es.IndexPutSettings(fmt.Sprintf("blocked%d", i)).BodyString(body).Do(ctx)
					require.NoError(t, err)
					return
				}
				_, err := es.PerformRequest(ctx, elastic.PerformRequestOptions{Method: "PUT", Path: "/_cluster/settings", Body: `{"transient":` + body + `}`})
				require.NoError(t, err)
			}
			topic := fmt.Sprintf("blocked%d", i)
			brokers := startKfake(t, 2)
			cfg := testConfig(brokers, node.URL(), topic)
			zero := 0
			cfg.Template.Replicas = &zero
			cfg.Index = "{topic}"
			var logs syncBuffer
			r := startTransferLog(t, cfg, &logs, slog.LevelInfo)
			const first, n = 100, 200
			produceAgentRecords(t, brokers, topic, 0, first, nil)
			require.Eventually(t, func() bool { return esCount(ctx, es, topic) == first }, 60*time.Second, 100*time.Millisecond)
			requireAllCommitted(t, brokers, cfg.Kafka.Group, topic)

			setBlock(true)
			t.Cleanup(func() { setBlock(false) })
			produceAgentRecords(t, brokers, topic, first, first+n, nil)
			stalled := func() float64 { return testutil.ToFloat64(r.tr.m.StalledPartitions.WithLabelValues(tt.reason)) }
			require.Eventually(t, func() bool { return stalled() > 0 }, 30*time.Second, 50*time.Millisecond,
				"partitions stalled with reason %s", tt.reason)
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), "partition stalled") }, 30*time.Second, 50*time.Millisecond)
			require.Contains(t, logs.String(), "reason="+tt.reason)
			require.Contains(t, logs.String(), "topic="+topic)
			require.Positive(t, testutil.ToFloat64(r.tr.m.IndexErrors.WithLabelValues(topic, "cluster_block_exception")))
			require.Equal(t, first, esCount(ctx, es, topic), "nothing indexed while blocked")
			require.Equal(t, float64(0), r.metric(t, "logtransfer_dlq_records_total"), "nothing in the DLQ while blocked")
			c, e := committed(t, brokers, cfg.Kafka.Group, topic)
			require.Less(t, c[0]+c[1], e[0]+e[1], "nothing committed while blocked")
			require.NotContains(t, logs.String(), "refuses the credentials", "a block is no auth failure")

			setBlock(false)
			require.Eventually(t, func() bool { return esCount(ctx, es, topic) == first+n }, 60*time.Second, 100*time.Millisecond)
			requireAllCommitted(t, brokers, cfg.Kafka.Group, topic)
			require.Equal(t, float64(0), r.metric(t, "logtransfer_dlq_records_total"), "0 in the DLQ")
			require.Equal(t, float64(first+n), r.metric(t, "logtransfer_docs_indexed_total"), "0 lost")
			require.Eventually(t, func() bool { return stalled() == 0 }, 5*time.Second, 20*time.Millisecond)
			require.Contains(t, logs.String(), "partition flows again")
			r.stop(t)
			require.Equal(t, first+n, esCount(ctx, es, topic), "no duplicates")
		})
	}
}

// setStallLog sets when stalls are logged, for a test; the returned func
// restores the defaults.
func setStallLog(t *testing.T, after, every time.Duration) func() {
	t.Helper()
	a, e := stallLogAfter, stallLogEvery
	stallLogAfter, stallLogEvery = after, every
	return func() { stallLogAfter, stallLogEvery = a, e }
}
