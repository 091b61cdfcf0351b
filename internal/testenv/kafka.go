package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/logcollect/logcollect/internal/servers"
)

// Kafka is a real single-node KRaft broker running as a child JVM (servers.Kafka), with its
// data in a test temp dir. Its methods are not safe for concurrent use.
type Kafka struct {
	t testing.TB
	*servers.Kafka
	secure map[string]int // the ports of the KafkaOptions listeners, by name
}

// StartKafka starts a fresh broker on free 127.0.0.1 ports with its data in t.TempDir(), and
// waits until it answers. t.Cleanup stops it (killing it if a graceful stop takes over 15 s).
// Without the jars (see KafkaLibs) the test is skipped, or fails when CI=true.
func StartKafka(t testing.TB) *Kafka {
	t.Helper()
	return startKafka(t, KafkaOptions{})
}

func startKafka(t testing.TB, o KafkaOptions) *Kafka {
	t.Helper()
	libs, err := KafkaLibs()
	if err != nil {
		skipOrFail(t, err)
	}
	port, ctrlPort := freePorts(t)
	secure := map[string]int{}
	k := newKafka(t, servers.KafkaConfig{Port: port, ControllerPort: ctrlPort, Libs: libs,
		ExtraProps: o.props(t, port, ctrlPort, secure), Tuned: o.Tuned})
	k.secure = secure
	if err := k.Start(); err != nil {
		t.Fatal(err)
	}
	if err := o.addSCRAMUsers(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// newKafka creates (formats) a broker with its data in t.TempDir(), not started yet; t.Cleanup
// stops it, resuming it first if paused, and logs the end of its log if t failed.
func newKafka(t testing.TB, cfg servers.KafkaConfig) *Kafka {
	t.Helper()
	cfg.Dir = t.TempDir()
	sk, err := servers.NewKafka(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := &Kafka{t: t, Kafka: sk}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kafka: last lines of %s:\n%s", k.Log(), k.LogTail())
		}
		_ = k.Resume() // a paused JVM would not see the SIGTERM
		if err := k.Stop(); err != nil {
			t.Log(err)
		}
	})
	return k
}

// KafkaLibs returns the directory of the broker's jars (servers.KafkaLibs).
func KafkaLibs() (string, error) { return servers.KafkaLibs() }

// Start starts the broker again after Stop or Kill, on the same ports and with the same data,
// and waits until it answers.
func (k *Kafka) Start() error {
	start := time.Now()
	if err := k.Kafka.Start(context.Background()); err != nil {
		return err
	}
	k.t.Logf("kafka %s: broker %d at %s ready in %s", servers.KafkaVersion, k.NodeID(), k.Brokers()[0], time.Since(start).Round(time.Millisecond))
	return nil
}
