package servers

import (
	"os"
	"path/filepath"
	"slices"
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
