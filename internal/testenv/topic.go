package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadTopic waits until topic holds at least n records (the sum of its partitions' end
// offsets) or timeout passes, then reads it from the start up to the end offsets seen last,
// and returns every record. Reading to the end rather than stopping at n records is what
// lets a test see records beyond the ones it expects: duplicates. A topic that does not
// exist holds no record.
func ReadTopic(t testing.TB, brokers []string, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ends := func() map[int32]int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		listed, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
		out := map[int32]int64{}
		if err != nil || listed.Error() != nil { // no such topic yet
			return out
		}
		listed.Each(func(o kadm.ListedOffset) {
			if o.Offset > 0 {
				out[o.Partition] = o.Offset
			}
		})
		return out
	}
	sum := func(m map[int32]int64) (n int64) {
		for _, v := range m {
			n += v
		}
		return n
	}
	deadline := time.Now().Add(timeout)
	want := ends()
	for sum(want) < int64(n) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		want = ends()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s to its end offsets: %d partitions left after a minute", topic, len(want))
		}
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return recs
}
