package agent

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/collect"
)

// TestKafkaUp plays sequences of acknowledgements, failed records and pings
// on logagent_kafka_up.
func TestKafkaUp(t *testing.T) {
	down := errors.New("metadata: i/o timeout")
	type event struct {
		op   string // ack, fail, ping
		err  error  // of a ping
		want float64
	}
	tests := []struct {
		name   string
		events []event
	}{
		{name: "pings alone", events: []event{{"ping", nil, 1}, {"ping", down, 0}, {"ping", nil, 1}}},
		{name: "an ack brings it up before the next ping", events: []event{{"ping", down, 0}, {"ack", nil, 1}}},
		{name: "acks keep it up while pings fail", events: []event{{"ack", nil, 1}, {"ping", down, 1}, {"ack", nil, 1}, {"ping", down, 1}}},
		{name: "a failed ping without an ack since the last one: down", events: []event{{"ack", nil, 1}, {"ping", down, 1}, {"ping", down, 0}}},
		{name: "a failed record brings it down at once", events: []event{{"ping", nil, 1}, {"fail", nil, 0}, {"ack", nil, 1}, {"fail", nil, 0}}},
		{name: "a ping after a failed record", events: []event{{"ping", nil, 1}, {"fail", nil, 0}, {"ping", nil, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "logagent_kafka_up"})
			k := newKafkaUp(g)
			for i, ev := range tt.events {
				switch ev.op {
				case "ack":
					k.ack()
				case "fail":
					k.fail()
				case "ping":
					require.Equal(t, ev.want == 1, k.ping(ev.err), "event %d: ping's result", i)
				}
				require.Equal(t, ev.want, testutil.ToFloat64(g), "after event %d (%s)", i, ev.op)
			}
		})
	}
}

// pingProducer is a fakeProducer whose metadata requests fail while
// pingDown is set.
type pingProducer struct {
	fakeProducer
	pingDown atomic.Bool
	pings    atomic.Int64
}

func (p *pingProducer) Ping(context.Context) error {
	p.pings.Add(1)
	if p.pingDown.Load() {
		return errors.New("metadata request timed out")
	}
	return nil
}

// TestKafkaUpFromAcks runs an agent whose metadata requests fail while its
// records are acknowledged: logagent_kafka_up is 1, as documented, and goes
// to 0 once the acknowledgements stop and a ping fails.
func TestKafkaUpFromAcks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendLines(t, path, 0, 10)
	prod := &pingProducer{}
	prod.pingDown.Store(true)
	a, err := New(fakeConfig(t), prod, testLog(t), prometheus.NewRegistry())
	require.NoError(t, err)
	a.pingEvery = 300 * time.Millisecond // two pings between an ack and a look at the gauge: unlikely
	up := func() float64 { return testutil.ToFloat64(a.m.KafkaUp) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	require.Eventually(t, func() bool { return prod.pings.Load() >= 2 }, 10*time.Second, 10*time.Millisecond)
	require.Zero(t, up(), "no ack, no metadata answer")

	tasks, err := collect.ValidateTasks([]collect.Task{{Path: path, Topic: "t", StartPosition: "beginning"}})
	require.NoError(t, err)
	require.NoError(t, a.Apply(tasks, "test"))
	prod.waitFor(t, 10)
	require.Equal(t, float64(1), up(), "records acknowledged while the metadata requests fail")

	// No more acknowledgements: down after a ping (the sequences of acks and
	// pings are in TestKafkaUp).
	require.Eventually(t, func() bool { return up() == 0 }, 10*time.Second, 10*time.Millisecond)
	prod.pingDown.Store(false)
	require.Eventually(t, func() bool { return up() == 1 }, 10*time.Second, 10*time.Millisecond)
}
