package agent

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// kafkaUp keeps logagent_kafka_up. Kafka is up once it acknowledges a
// record or answers a metadata request (watchKafka's ping), and down once a
// record fails or a ping fails with no acknowledgement since the previous
// ping. Acknowledgements keep it up while produce requests succeed and a
// metadata request does not (a slow controller); a record that fails after
// the client's retries (authorization, a delivery timeout) brings it down
// at once instead of at the next ping.
//
// ack runs for every acknowledged record, on the client's promise
// goroutines: while nothing changes it costs two atomic loads.
type kafkaUp struct {
	g     prometheus.Gauge
	mu    sync.Mutex  // orders the gauge's updates as up's
	up    atomic.Bool // the gauge's value
	acked atomic.Bool // a record was acknowledged since the last ping
}

func newKafkaUp(g prometheus.Gauge) *kafkaUp { return &kafkaUp{g: g} }

// ack records an acknowledged record.
func (k *kafkaUp) ack() {
	if !k.acked.Load() {
		k.acked.Store(true)
	}
	if !k.up.Load() {
		k.set(true)
	}
}

// fail records a record Kafka failed.
func (k *kafkaUp) fail() {
	if k.up.Load() {
		k.set(false)
	}
}

// ping records the result of a metadata request and returns whether Kafka
// is up.
func (k *kafkaUp) ping(err error) bool {
	up := k.acked.Swap(false) || err == nil
	k.set(up)
	return up
}

func (k *kafkaUp) set(up bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.up.Store(up)
	if up {
		k.g.Set(1)
	} else {
		k.g.Set(0)
	}
}
