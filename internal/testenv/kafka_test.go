package testenv

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestKafka(t *testing.T) {
	k := StartKafka(t)
	const topic = "testenv"

	// acks=all and idempotence are kgo's defaults; spelled out as the agent relies on them.
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...), kgo.RequiredAcks(kgo.AllISRAcks()))
	require.NoError(t, err)
	defer cl.Close()
	created, err := kadm.NewClient(cl).CreateTopic(t.Context(), 3, 1, nil, topic)
	require.NoError(t, err)
	require.NoError(t, created.Err)

	want := produce(t, cl, topic, 0, 10_000)
	require.Equal(t, want, consumeAll(t, k.Brokers(), topic))

	require.NoError(t, k.Stop())
	down, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	require.NoError(t, err)
	defer down.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	err = down.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("outage")}).FirstErr()
	require.ErrorIs(t, err, context.DeadlineExceeded, "a produce while the broker is down waits")

	require.NoError(t, k.Start())
	require.Equal(t, want, consumeAll(t, k.Brokers(), topic), "records survive a graceful stop")
	want = append(want, produce(t, cl, topic, len(want), 1_000)...) // the old client reconnects
	require.Equal(t, want, consumeAll(t, k.Brokers(), topic))

	require.NoError(t, k.Kill())
	require.NoError(t, k.Start())
	require.Equal(t, want, consumeAll(t, k.Brokers(), topic), "acked records survive a crash of the broker alone")
}

// produce writes n records numbered from first and returns their values, sorted.
func produce(t *testing.T, cl *kgo.Client, topic string, first, n int) []string {
	t.Helper()
	values := make([]string, n)
	records := make([]*kgo.Record, n)
	for i := range n {
		values[i] = fmt.Sprintf("record-%06d", first+i)
		records[i] = &kgo.Record{Topic: topic, Key: []byte(values[i]), Value: []byte(values[i])}
	}
	require.NoError(t, cl.ProduceSync(t.Context(), records...).FirstErr())
	return values
}

// consumeAll reads the whole topic (ReadTopic) and returns the values, sorted.
func consumeAll(t *testing.T, brokers []string, topic string) []string {
	t.Helper()
	var got []string
	for _, r := range ReadTopic(t, brokers, topic, 0, 0) {
		got = append(got, string(r.Value))
	}
	slices.Sort(got)
	return got
}
