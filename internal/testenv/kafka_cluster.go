package testenv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/logcollect/logcollect/internal/servers"
)

// KafkaClusterOptions shape the cluster of StartKafkaCluster.
type KafkaClusterOptions struct {
	// Brokers is the number of nodes, each a combined broker and KRaft controller; 0 means 3.
	Brokers int
	// ExtraProps is appended to every node's server.properties (a key given again wins), such
	// as "auto.create.topics.enable=false\n".
	ExtraProps string
	// ports chooses the 2n ports (client ports, then controller ports); nil means FreePorts.
	// For the test of the retry on a taken port.
	ports func(t testing.TB, n int) []int
}

// KafkaCluster is a real KRaft cluster of combined broker+controller nodes, each a child JVM
// (servers.Kafka) on its own loopback ports, with the static quorum of all nodes. Topics are
// created with every node as a replica and min.insync.replicas a majority (2 of 3): the
// cluster takes acks=all writes with one node down. Its methods are not safe for concurrent
// use.
type KafkaCluster struct {
	t     testing.TB
	nodes []*Kafka // node id i+1
}

// StartKafkaCluster starts a fresh cluster on free 127.0.0.1 ports with its data in temp dirs,
// and waits until every node answers (about 10 s for 3 nodes on 2 cores). t.Cleanup kills
// it. Without the jars the test fails, or is skipped in a partial run (Missing).
func StartKafkaCluster(t testing.TB, o KafkaClusterOptions) *KafkaCluster {
	t.Helper()
	skipShort(t, "starts a Kafka cluster")
	libs, err := KafkaLibs()
	if err != nil {
		Missing(t, err)
	}
	n := o.Brokers
	if n == 0 {
		n = 3
	}
	c := &KafkaCluster{t: t}
	// Killed, not stopped: a node's graceful shutdown waits for a controller quorum, which is
	// gone once the other nodes have stopped (15 s each, then killed anyway). The data is
	// thrown away.
	t.Cleanup(func() {
		for _, k := range c.nodes {
			_ = k.Kill() // newKafka's cleanup logs the end of the log if t failed
		}
	})
	// Together: a node is ready once the controller quorum (a majority of the nodes) is up. A
	// port taken between its choice and the JVM's bind (parallel test binaries) fails a
	// node: the whole cluster is made again on fresh ports.
	start := time.Now()
	err = startOnFreshPorts(t, func() error {
		for _, k := range c.nodes { // a failed attempt's
			_ = k.Kill()
		}
		c.nodes = c.nodes[:0]
		choose := o.ports
		if choose == nil {
			choose = FreePorts
		}
		ports := choose(t, 2*n)
		ctrlPorts := ports[n:]
		voters, id := servers.KafkaVoters(ctrlPorts), servers.NewKafkaClusterID()
		for i := range n {
			c.nodes = append(c.nodes, newKafka(t, servers.KafkaConfig{Port: ports[i], ControllerPort: ctrlPorts[i], Libs: libs,
				NodeID: i + 1, Voters: voters, ClusterID: id, ExtraProps: o.ExtraProps}))
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, k := range c.nodes {
			wg.Go(func() { errs[i] = k.Kafka.Start(context.Background()) })
		}
		wg.Wait()
		for _, err := range errs {
			if errors.Is(err, servers.ErrPortInUse) {
				return err
			}
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kafka %s: cluster of %d nodes %v ready in %s", servers.KafkaVersion, n, c.Brokers(), time.Since(start).Round(time.Millisecond))
	return c
}

// Brokers returns the client addresses of every node, running or not.
func (c *KafkaCluster) Brokers() []string {
	var addrs []string
	for _, k := range c.nodes {
		addrs = append(addrs, k.Brokers()...)
	}
	return addrs
}

// Node returns the node with id (1 to the number of nodes): Kill, Stop, Start (on the same
// ports, with its data), Pause, Resume.
func (c *KafkaCluster) Node(id int32) *Kafka {
	c.t.Helper()
	if id < 1 || int(id) > len(c.nodes) {
		c.t.Fatalf("kafka cluster: no node %d", id)
	}
	return c.nodes[id-1]
}

// Size is the number of nodes.
func (c *KafkaCluster) Size() int { return len(c.nodes) }

// admin returns an admin client seeded with every node (dead ones are skipped) and a context
// bounding the call.
func (c *KafkaCluster) admin() (*kadm.Client, context.Context, func(), error) {
	cl, ctx, done, err := c.client()
	if err != nil {
		return nil, nil, nil, err
	}
	return kadm.NewClient(cl), ctx, done, nil
}

func (c *KafkaCluster) client() (*kgo.Client, context.Context, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...))
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	return cl, ctx, func() { cancel(); cl.Close() }, nil
}

// CreateTopic creates topic with partitions partitions replicated to every node
// (min.insync.replicas: the cluster's majority), plus configs, and waits until every
// partition has a leader.
func (c *KafkaCluster) CreateTopic(topic string, partitions int32, configs map[string]*string) error {
	adm, ctx, done, err := c.admin()
	if err != nil {
		return err
	}
	defer done()
	res, err := adm.CreateTopic(ctx, partitions, int16(len(c.nodes)), configs, topic)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return fmt.Errorf("kafka cluster: create topic %s: %w", topic, err)
	}
	for p := range partitions {
		if _, err := c.WaitLeader(topic, p, -1, 30*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// Leader returns the id of the node leading a partition, as the metadata of the running
// nodes says (-1: none now).
func (c *KafkaCluster) Leader(topic string, partition int32) (int32, error) {
	p, err := c.partition(topic, partition)
	return p.Leader, err
}

// ISR returns the in-sync replicas of a partition.
func (c *KafkaCluster) ISR(topic string, partition int32) ([]int32, error) {
	p, err := c.partition(topic, partition)
	return p.ISR, err
}

func (c *KafkaCluster) partition(topic string, partition int32) (kadm.PartitionDetail, error) {
	adm, ctx, done, err := c.admin()
	if err != nil {
		return kadm.PartitionDetail{}, err
	}
	defer done()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return kadm.PartitionDetail{}, fmt.Errorf("kafka cluster: metadata of %s: %w", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return kadm.PartitionDetail{}, fmt.Errorf("kafka cluster: topic %s: %v", topic, td.Err)
	}
	p, ok := td.Partitions[partition]
	if !ok {
		return kadm.PartitionDetail{}, fmt.Errorf("kafka cluster: no partition %s/%d", topic, partition)
	}
	return p, nil
}

// WaitLeader waits until a partition has a leader other than not (-1: any leader) and
// returns it.
func (c *KafkaCluster) WaitLeader(topic string, partition, not int32, timeout time.Duration) (int32, error) {
	deadline := time.Now().Add(timeout)
	for {
		l, err := c.Leader(topic, partition)
		if err == nil && l >= 0 && l != not {
			return l, nil
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("kafka cluster: %s/%d has no leader but %d after %s (leader %d, %v)", topic, partition, not, timeout, l, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitISR waits until every replica of a partition is in sync again (after a node came back).
func (c *KafkaCluster) WaitISR(topic string, partition int32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		isr, err := c.ISR(topic, partition)
		if err == nil && len(isr) == len(c.nodes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kafka cluster: %s/%d in-sync replicas %v after %s (%v)", topic, partition, isr, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Controller returns the id of the active KRaft controller, the quorum's leader, which
// DescribeQuorum answers (a broker forwards the request to it).
func (c *KafkaCluster) Controller() (int32, error) {
	cl, ctx, done, err := c.client()
	if err != nil {
		return -1, err
	}
	defer done()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = quorumErr(resp)
	}
	if err != nil {
		return -1, fmt.Errorf("kafka cluster: describe quorum: %w", err)
	}
	return resp.Topics[0].Partitions[0].LeaderID, nil
}

// quorumErr returns the first error of a DescribeQuorum response.
func quorumErr(resp *kmsg.DescribeQuorumResponse) error {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("unexpected answer %+v", resp.Topics)
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}
