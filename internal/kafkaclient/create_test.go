package kafkaclient

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/logcollect/logcollect/internal/config"
)

func TestCreateTopicsConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    CreateTopicsConfig
		want string
	}{
		{name: "defaults", c: CreateTopicsConfig{Enabled: true}},
		{name: "set", c: CreateTopicsConfig{Enabled: true, Partitions: 12, ReplicationFactor: 3, Configs: map[string]string{"min.insync.replicas": "2"}}},
		{name: "negative partitions", c: CreateTopicsConfig{Partitions: -1}, want: "kafka.create_topics.partitions -1: must be >= 0"},
		{name: "negative replication", c: CreateTopicsConfig{ReplicationFactor: -2}, want: "kafka.create_topics.replication_factor -2: must be >= 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs config.Errors
			tc.c.Validate("kafka.create_topics", &errs)
			if tc.want == "" {
				require.NoError(t, errs.Err())
				return
			}
			require.ErrorContains(t, errs.Err(), tc.want)
		})
	}
}

func TestTopicMissing(t *testing.T) {
	require.True(t, TopicMissing(fmt.Errorf("produce: %w", kerr.UnknownTopicOrPartition)))
	require.False(t, TopicMissing(kerr.NotLeaderForPartition))
	require.False(t, TopicMissing(nil))
	var nilTopics *Topics // a fake producer's: does nothing
	require.NoError(t, nilTopics.Ensure(t.Context(), "t"))
	nilTopics.Failed("t", kerr.UnknownTopicOrPartition)
	nilTopics.Acked("t")
}
