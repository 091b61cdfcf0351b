package servers

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() error
		want string
	}{
		{"kafka without dir", func() error { _, err := NewKafka(KafkaConfig{Port: 1, ControllerPort: 2, Libs: "x"}); return err }, "no data dir"},
		{"kafka same ports", func() error {
			_, err := NewKafka(KafkaConfig{Dir: "d", Port: 1, ControllerPort: 1, Libs: "x"})
			return err
		}, "two distinct ports"},
		{"kafka node not a voter", func() error {
			_, err := NewKafka(KafkaConfig{Dir: "d", Port: 1, ControllerPort: 2, NodeID: 1, Voters: "11@127.0.0.1:2,2@127.0.0.1:3", Libs: "x"})
			return err
		}, "do not include node 1 on controller port 2"},
		{"elasticsearch no port", func() error {
			_, err := NewElasticsearch(ElasticsearchConfig{Dir: "d", TransportPort: 2, Home: "x"})
			return err
		}, "two distinct ports"},
		{"etcd without dir", func() error { _, err := NewEtcd(EtcdConfig{ClientPort: 1, PeerPort: 2}); return err }, "no data dir"},
		{"prometheus no port", func() error { _, err := NewPrometheus(PrometheusConfig{Dir: "d", Binary: "x"}); return err }, "bad port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorContains(t, tc.new(), tc.want)
		})
	}
}

// TestKafkaJVMFlags: the fast-start flags by default, kafka-server-start.sh's with Tuned,
// which also uses no class-data-sharing archive (one made with the serial GC).
func TestKafkaJVMFlags(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broker.jsa"), nil, 0o644))
	for _, tc := range []struct {
		tuned      bool
		want, not  []string
		withShared bool
	}{
		{false, []string{"-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}, []string{"-XX:+UseG1GC"}, true},
		{true, []string{"-Xmx1g", "-XX:+UseG1GC"}, []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx512m"}, false},
	} {
		k := &Kafka{cfg: KafkaConfig{Dir: dir, Libs: filepath.Join(dir, "libs"), Tuned: tc.tuned}, jsa: filepath.Join(dir, "broker.jsa")}
		args := k.java(append(k.sharedArchive(), "kafka.Kafka")...).Args
		for _, f := range tc.want {
			require.Contains(t, args, f, "tuned %v", tc.tuned)
		}
		for _, f := range tc.not {
			require.NotContains(t, args, f, "tuned %v", tc.tuned)
		}
		require.Equal(t, tc.withShared, slices.Contains(args, "-XX:SharedArchiveFile="+k.jsa), "tuned %v: %v", tc.tuned, args)
	}
}

// A cluster node's server.properties: its id, the static quorum, replication to every node
// with a majority in sync; a single node's: node 1, a bootstrap controller, no replication.
func TestKafkaClusterProps(t *testing.T) {
	voters := KafkaVoters([]int{9093, 9095, 9097})
	require.Equal(t, "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097", voters)
	node := KafkaConfig{Port: 9094, ControllerPort: 9095, NodeID: 2, Voters: voters, ExtraProps: "min.insync.replicas=3\n"}
	props := node.props("/data")
	for _, want := range []string{"node.id=2\n", "controller.quorum.voters=" + voters + "\n", "default.replication.factor=3\n",
		"offsets.topic.replication.factor=3\n", "min.insync.replicas=2\n"} {
		require.Contains(t, props, want)
	}
	require.NotContains(t, props, "controller.quorum.bootstrap.servers")
	require.True(t, strings.HasSuffix(props, "min.insync.replicas=3\n"), "ExtraProps come last and win")

	single := KafkaConfig{Port: 9092, ControllerPort: 9093}
	props = single.props("/data")
	require.Contains(t, props, "node.id=1\n")
	require.Contains(t, props, "controller.quorum.bootstrap.servers=127.0.0.1:9093\n")
	require.NotContains(t, props, "default.replication.factor")
}
