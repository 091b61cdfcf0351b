package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadTopic reads past the records asked for, to the end of every partition, so that a
// test sees duplicates; a missing topic holds none.
func TestReadTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	require.NoError(t, err)
	defer c.Close()
	brokers := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 50 {
		recs = append(recs, &kgo.Record{Topic: "t", Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "v%d", i)})
	}
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())

	require.Len(t, ReadTopic(t, brokers, "t", 10, 10*time.Second), 50, "read to the end, not to the 10 asked for")
	start := time.Now()
	require.Empty(t, ReadTopic(t, brokers, "missing", 1, 200*time.Millisecond))
	require.Less(t, time.Since(start), 10*time.Second)
}
