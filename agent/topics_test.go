package agent

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/kafkaclient"
	"github.com/logcollect/logcollect/internal/testenv"
)

// TestCreateTopics runs the agent against a broker that does not create topics on use, as
// managed Kafka services run: with kafka.create_topics the task's topic is created (with its
// partitions, replication factor and configs) and the lines arrive; without, the log names
// the missing topic and logagent_kafka_topic_missing{topic} is 1 until the topic exists, when
// the lines arrive after all.
func TestCreateTopics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Kafka broker")
	}
	k := testenv.StartKafkaWithOptions(t, testenv.KafkaOptions{ExtraProps: "auto.create.topics.enable=false\n"})
	adm := kadm.NewClient(newClient(t, k.Brokers()))
	for _, tc := range []struct {
		name   string
		create kafkaclient.CreateTopicsConfig
	}{
		{name: "created", create: kafkaclient.CreateTopicsConfig{Enabled: true, Partitions: 2, ReplicationFactor: 1,
			Configs: map[string]string{"retention.ms": "3600000"}}},
		{name: "missing", create: kafkaclient.CreateTopicsConfig{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "new-" + tc.name
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			require.NoError(t, os.WriteFile(path, nil, 0o644))
			cfg := testConfig(t, k.Brokers(), t.TempDir())
			cfg.Kafka.CreateTopics = tc.create
			var log logBuffer
			ra := startAgentLog(t, cfg, nil, slog.New(slog.NewTextHandler(&log, nil)),
				collect.Task{Path: path, Topic: topic, StartPosition: "beginning"})
			appendLines(t, path, 0, 100)
			missing := func() float64 { return testutil.ToFloat64(ra.m.TopicMissing.WithLabelValues(topic)) }

			if !tc.create.Enabled {
				require.Eventually(t, func() bool { return missing() == 1 }, time.Minute, 50*time.Millisecond, "logagent_kafka_topic_missing")
				require.Contains(t, log.String(), "kafka topic does not exist and kafka.create_topics is off")
				require.Contains(t, log.String(), "topic="+topic)
				res, err := adm.CreateTopic(t.Context(), 1, 1, nil, topic)
				require.NoError(t, err)
				require.NoError(t, res.Err)
			}
			recs := consumeN(t, k.Brokers(), topic, 100, time.Minute)
			require.Len(t, recs, 100)
			require.Equal(t, wantLines(path, 0, 100), messagesByFile(t, recs)[path])
			require.Eventually(t, func() bool {
				return testutil.CollectAndCount(ra.m.TopicMissing) == 0
			}, 10*time.Second, 50*time.Millisecond, "no missing topic series once it exists")
			if tc.create.Enabled {
				td, err := adm.ListTopics(t.Context(), topic)
				require.NoError(t, err)
				require.Len(t, td[topic].Partitions, 2)
				cfgs, err := adm.DescribeTopicConfigs(t.Context(), topic)
				require.NoError(t, err)
				rc, err := cfgs.On(topic, nil)
				require.NoError(t, err)
				retention := ""
				for _, c := range rc.Configs {
					if c.Key == "retention.ms" {
						retention = c.MaybeValue()
					}
				}
				require.Equal(t, "3600000", retention)
				require.Contains(t, log.String(), "kafka topic created")
			}
		})
	}
}
