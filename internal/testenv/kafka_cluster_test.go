package testenv

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaCluster: topics are replicated to the 3 nodes with min.insync.replicas=2, acks=all
// writes go on with the partition leader killed -9 (another node leads), the killed node
// restarts on its ports and catches up, a controller failover elects another, and nothing
// acked is lost on the way.
func TestKafkaCluster(t *testing.T) {
	// The first attempt finds a controller port taken (by another test binary, as in CI):
	// the cluster is made again on fresh ports.
	taken, _ := hold(t)
	calls := 0
	c := StartKafkaCluster(t, KafkaClusterOptions{ports: func(t testing.TB, n int) []int {
		calls++
		ports := FreePorts(t, n)
		if calls == 1 {
			ports[len(ports)-1] = taken
		}
		return ports
	}})
	require.Equal(t, 2, calls)
	require.Len(t, c.Brokers(), 3)
	const topic = "cluster"
	require.NoError(t, c.CreateTopic(topic, 2, nil))

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.RequiredAcks(kgo.AllISRAcks()))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(t.Context(), topic)
	require.NoError(t, err)
	for _, p := range td[topic].Partitions {
		require.Len(t, p.Replicas, 3, "partition %d", p.Partition)
		require.Len(t, p.ISR, 3, "partition %d", p.Partition)
	}
	cfgs, err := adm.DescribeTopicConfigs(t.Context(), topic)
	require.NoError(t, err)
	rc, err := cfgs.On(topic, nil)
	require.NoError(t, err)
	require.NoError(t, rc.Err)
	minISR := ""
	for _, cf := range rc.Configs {
		if cf.Key == "min.insync.replicas" {
			minISR = cf.MaybeValue()
		}
	}
	require.Equal(t, "2", minISR, "min.insync.replicas")

	want := produce(t, cl, topic, 0, 1000)
	leader, err := c.Leader(topic, 0)
	require.NoError(t, err)
	require.NoError(t, c.Node(leader).Kill())
	next, err := c.WaitLeader(topic, 0, leader, time.Minute)
	require.NoError(t, err)
	t.Logf("partition 0: leader %d killed, %d leads", leader, next)
	want = append(want, produce(t, cl, topic, len(want), 1000)...) // 2 in sync of 3: acks=all still works
	require.NoError(t, c.Node(leader).Start())
	require.NoError(t, c.WaitISR(topic, 0, time.Minute), "the restarted node catches up")

	ctrl, err := c.Controller()
	require.NoError(t, err)
	require.NoError(t, c.Node(ctrl).Kill())
	var newCtrl int32
	require.Eventually(t, func() bool {
		newCtrl, err = c.Controller()
		return err == nil && newCtrl != ctrl && newCtrl > 0
	}, time.Minute, 100*time.Millisecond, "a new controller after %d was killed (%v)", ctrl, err)
	t.Logf("controller %d killed, %d elected", ctrl, newCtrl)
	want = append(want, produce(t, cl, topic, len(want), 1000)...)
	require.NoError(t, c.Node(ctrl).Start())

	require.Equal(t, want, consumeAll(t, c.Brokers(), topic), "every acked record, once")
}
