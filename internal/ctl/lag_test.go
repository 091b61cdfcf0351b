package ctl

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/testenv"
)

func TestLagRealKafka(t *testing.T) {
	k := testenv.StartKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	brokers := k.Brokers()

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	_, err = adm.CreateTopic(ctx, 2, 1, nil, "web_log")
	require.NoError(t, err)
	// 10 records in partition 0, 4 in partition 1.
	for p, n := range []int{10, 4} {
		for i := range n {
			r := &kgo.Record{Topic: "web_log", Partition: int32(p), Value: []byte("line " + strconv.Itoa(i))}
			require.NoError(t, cl.ProduceSync(ctx, r).FirstErr())
		}
	}
	// logtransfer committed up to offset 7 in partition 0 and everything in 1.
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "web_log", Partition: 0, At: 7, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "web_log", Partition: 1, At: 4, LeaderEpoch: -1})
	resp, err := adm.CommitOffsets(ctx, "logtransfer", offs)
	require.NoError(t, err)
	require.NoError(t, resp.Error())

	ladm, err := NewKafkaAdmin(brokers, 10*time.Second)
	require.NoError(t, err)
	defer ladm.Close()

	t.Run("committed group", func(t *testing.T) {
		l, err := Lag(ctx, ladm, brokers, DefaultGroup, 10*time.Second)
		require.NoError(t, err)
		require.Equal(t, GroupLag{Group: "logtransfer", State: "Empty", Total: 3, Partitions: []PartitionLag{
			{Topic: "web_log", Partition: 0, Committed: 7, End: 10, Lag: 3},
			{Topic: "web_log", Partition: 1, Committed: 4, End: 4, Lag: 0},
		}}, l)
		var out bytes.Buffer
		require.NoError(t, WriteLag(&out, l))
		require.Regexp(t, `^TOPIC +PARTITION +COMMITTED +END +LAG +MEMBER\n`+
			`web_log +0 +7 +10 +3 +-\n`+
			`web_log +1 +4 +4 +0 +-\n`+
			`group logtransfer \(Empty\): total lag 3\n$`, out.String())
	})

	t.Run("group with a live member", func(t *testing.T) {
		consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("logtransfer-test"),
			kgo.ConsumerGroup("live"), kgo.ConsumeTopics("web_log"), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		require.NoError(t, err)
		defer consumer.Close()
		// Consume everything and commit it; the member stays in the group.
		got := 0
		for got < 14 {
			fetches := consumer.PollFetches(ctx)
			require.NoError(t, fetches.Err())
			got += fetches.NumRecords()
		}
		require.NoError(t, consumer.CommitUncommittedOffsets(ctx))

		l, err := Lag(ctx, ladm, brokers, "live", 10*time.Second)
		require.NoError(t, err)
		require.Equal(t, "Stable", l.State)
		require.Len(t, l.Partitions, 2)
		for _, p := range l.Partitions {
			require.Equal(t, p.End, p.Committed)
			require.Zero(t, p.Lag)
			require.Regexp(t, `^logtransfer-test@/?127\.0\.0\.1`, p.Member)
		}
		require.Zero(t, l.Total)
	})

	t.Run("unknown group", func(t *testing.T) {
		_, err := Lag(ctx, ladm, brokers, "nobody", 10*time.Second)
		require.EqualError(t, err, `consumer group "nobody" not found (no members, no committed offsets)`)
	})
}
