package transfer

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/kafkaclient"
	"github.com/logcollect/logcollect/internal/testenv"
	"github.com/logcollect/logcollect/transfer/transfertest"
)

// TestCreateDLQTopic: against a broker that does not create topics on use, a rejected
// document's record reaches a dead-letter topic that kafka.create_topics created; with
// creation off the log names the missing topic and logtransfer_kafka_topic_missing{topic} is 1
// until someone creates it, and the record gets there then.
func TestCreateDLQTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Kafka broker")
	}
	k := testenv.StartKafkaWithOptions(t, testenv.KafkaOptions{ExtraProps: "auto.create.topics.enable=false\n"})
	brokers := k.Brokers()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, tc := range []struct {
		name   string
		create kafkaclient.CreateTopicsConfig
	}{
		{name: "created", create: kafkaclient.CreateTopicsConfig{Enabled: true, Partitions: 1, ReplicationFactor: 1}},
		{name: "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic, dlq := "src-"+tc.name, "src-"+tc.name+".dlq"
			res, err := adm.CreateTopic(t.Context(), 2, 1, nil, topic)
			require.NoError(t, err)
			require.NoError(t, res.Err)
			produceAgentRecords(t, brokers, topic, 0, 100, func(i int, v []byte) []byte {
				if i == 50 {
					return []byte(`{"@timestamp":"2026-01-01T00:00:00Z","message":{"POISON":1}}`)
				}
				return v
			})
			es := transfertest.NewES(t)
			es.SetItem(func(_, _ string, doc []byte) (int, string) {
				if strings.Contains(string(doc), "POISON") {
					return 400, "mapper_parsing_exception"
				}
				return 0, ""
			})
			cfg := testConfig(brokers, es.URL(), topic)
			cfg.Kafka.CreateTopics = tc.create
			var log syncBuffer
			r := startTransferLog(t, cfg, &log, slog.LevelInfo)
			waitCount(t, es, 99, time.Minute)

			if !tc.create.Enabled {
				require.Eventually(t, func() bool { return r.metric(t, "logtransfer_kafka_topic_missing") == 1 }, time.Minute, 50*time.Millisecond)
				require.Contains(t, log.String(), "kafka topic does not exist and kafka.create_topics is off")
				require.Contains(t, log.String(), "topic="+dlq)
				res, err := adm.CreateTopic(t.Context(), 1, 1, nil, dlq)
				require.NoError(t, err)
				require.NoError(t, res.Err)
			}
			requireAllCommitted(t, brokers, cfg.Kafka.Group, topic)
			require.Eventually(t, func() bool { return r.metric(t, "logtransfer_kafka_topic_missing") == 0 }, 10*time.Second, 50*time.Millisecond)
			ends, err := adm.ListEndOffsets(context.Background(), dlq)
			require.NoError(t, err)
			require.NoError(t, ends.Error())
			var n int64
			ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
			require.Equal(t, int64(1), n, "records in %s", dlq)
			if tc.create.Enabled {
				require.Contains(t, log.String(), "kafka topic created")
			}
		})
	}
}
