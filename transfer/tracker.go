package transfer

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ackTracker follows the records of one batch, per partition in fetch
// (offset) order, and finds for each partition the highest offset up to
// which every record was acknowledged: only that may be committed. Offsets
// need not be contiguous numbers (compaction, transaction markers): the
// records fetched are what counts. It is not safe for concurrent use.
type ackTracker struct {
	parts map[topicPartition]*partAcks
}

type topicPartition struct {
	topic     string
	partition int32
}

type partAcks struct {
	recs      []*kgo.Record // ascending offsets
	acked     []bool
	prefix    int // recs[:prefix] are all acked
	committed int // recs[:committed] were returned by committable
}

func newAckTracker() *ackTracker {
	return &ackTracker{parts: make(map[topicPartition]*partAcks)}
}

// add tracks r, which must come after every record already added for its
// partition.
func (t *ackTracker) add(r *kgo.Record) {
	tp := topicPartition{r.Topic, r.Partition}
	p := t.parts[tp]
	if p == nil {
		p = &partAcks{}
		t.parts[tp] = p
	}
	p.recs = append(p.recs, r)
	p.acked = append(p.acked, false)
}

// ack marks r acknowledged. Records not tracked are ignored.
func (t *ackTracker) ack(r *kgo.Record) {
	p := t.parts[topicPartition{r.Topic, r.Partition}]
	if p == nil {
		return
	}
	i := sort.Search(len(p.recs), func(i int) bool { return p.recs[i].Offset >= r.Offset })
	if i == len(p.recs) || p.recs[i].Offset != r.Offset {
		return
	}
	p.acked[i] = true
	for p.prefix < len(p.acked) && p.acked[p.prefix] {
		p.prefix++
	}
}

// committable returns, for each partition whose acknowledged prefix grew
// since the last call, the last record of that prefix: committing it
// commits its offset+1.
func (t *ackTracker) committable() []*kgo.Record {
	var out []*kgo.Record
	for _, p := range t.parts {
		if p.prefix > p.committed {
			out = append(out, p.recs[p.prefix-1])
			p.committed = p.prefix
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// pending is the number of tracked records not yet acknowledged.
func (t *ackTracker) pending() int {
	n := 0
	for _, p := range t.parts {
		for _, a := range p.acked {
			if !a {
				n++
			}
		}
	}
	return n
}

// partitions returns the tracked partitions, for pausing them.
func (t *ackTracker) partitions() map[string][]int32 {
	out := make(map[string][]int32)
	for tp := range t.parts {
		out[tp.topic] = append(out[tp.topic], tp.partition)
	}
	return out
}
