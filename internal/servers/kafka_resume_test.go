package servers_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/servers"
	"github.com/logcollect/logcollect/internal/testenv"
)

// TestKafkaResumesFromDir is what `make run` relies on: a second NewKafka on the same dir
// and ports does not format again, and the broker comes back with the records of the first.
func TestKafkaResumesFromDir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM twice")
	}
	if _, err := servers.KafkaLibs(); err != nil {
		testenv.Missing(t, err)
	}
	cfg := servers.KafkaConfig{Dir: t.TempDir()}
	ports := testenv.FreePorts(t, 2)
	cfg.Port, cfg.ControllerPort = ports[0], ports[1]
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	k, err := servers.NewKafka(cfg)
	require.NoError(t, err)
	require.NoError(t, k.Start(ctx))
	t.Cleanup(func() { _ = k.Kill() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "resume", Value: []byte("kept")}).FirstErr())
	cl.Close()
	require.NoError(t, k.Stop())

	k2, err := servers.NewKafka(cfg)
	require.NoError(t, err)
	require.NoError(t, k2.Start(ctx))
	t.Cleanup(func() { _ = k2.Stop() })
	cl, err = kgo.NewClient(kgo.SeedBrokers(k2.Brokers()...), kgo.ConsumeTopics("resume"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	fetches := cl.PollRecords(ctx, 1)
	require.NoError(t, fetches.Err())
	require.Equal(t, "kept", string(fetches.Records()[0].Value))
}
