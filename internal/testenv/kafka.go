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
// Without the jars (see KafkaLibs) the test fails, or is skipped in a partial run (Missing).
func StartKafka(t testing.TB) *Kafka {
	t.Helper()
	return startKafka(t, KafkaOptions{})
}

func startKafka(t testing.TB, o KafkaOptions) *Kafka {
	t.Helper()
	skipShort(t, "starts a Kafka broker")
	libs, err := KafkaLibs()
	if err != nil {
		Missing(t, err)
	}
	k := startJVM(t, "kafka", o.ports, func(port, ctrlPort int) (*Kafka, error) {
		secure := map[string]int{}
		sk, err := servers.NewKafka(servers.KafkaConfig{Dir: t.TempDir(), Port: port, ControllerPort: ctrlPort, Libs: libs,
			ExtraProps: o.props(t, port, ctrlPort, secure), Tuned: o.Tuned})
		if err != nil {
			return nil, err
		}
		return &Kafka{t: t, Kafka: sk, secure: secure}, nil
	})
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
// and waits until it answers. A port still taken (servers.ErrPortInUse) is waited for, and
// the start tried again (restartOnSamePorts).
func (k *Kafka) Start() error {
	ports := k.Ports()
	for _, p := range k.secure {
		ports = append(ports, p)
	}
	return restartOnSamePorts(k.t, k.startOnce, ports)
}

func (k *Kafka) startOnce() error {
	start := time.Now()
	if err := k.Kafka.Start(context.Background()); err != nil {
		return err
	}
	k.t.Logf("kafka %s: broker %d at %s ready in %s", servers.KafkaVersion, k.NodeID(), k.Brokers()[0], time.Since(start).Round(time.Millisecond))
	return nil
}
