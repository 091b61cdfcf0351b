package transfer

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestAckTracker(t *testing.T) {
	type tpo struct {
		topic     string
		partition int32
		offset    int64
	}
	tests := []struct {
		name    string
		fetched []tpo
		acks    [][]tpo // each step's acks, then committable is checked
		want    [][]tpo // the committable records after each step
		pending int
	}{
		{
			name:    "in order",
			fetched: []tpo{{"a", 0, 0}, {"a", 0, 1}, {"a", 0, 2}},
			acks:    [][]tpo{{{"a", 0, 0}, {"a", 0, 1}}, {{"a", 0, 2}}},
			want:    [][]tpo{{{"a", 0, 1}}, {{"a", 0, 2}}},
		},
		{
			name:    "gap holds the commit back",
			fetched: []tpo{{"a", 0, 5}, {"a", 0, 6}, {"a", 0, 7}, {"a", 0, 8}},
			acks:    [][]tpo{{{"a", 0, 5}, {"a", 0, 7}, {"a", 0, 8}}, {}, {{"a", 0, 6}}},
			want:    [][]tpo{{{"a", 0, 5}}, nil, {{"a", 0, 8}}},
		},
		{
			name:    "nothing acked at the head",
			fetched: []tpo{{"a", 0, 0}, {"a", 0, 1}},
			acks:    [][]tpo{{{"a", 0, 1}}},
			want:    [][]tpo{nil},
			pending: 1,
		},
		{
			name:    "offsets with holes (compaction, markers)",
			fetched: []tpo{{"a", 0, 10}, {"a", 0, 14}, {"a", 0, 20}},
			acks:    [][]tpo{{{"a", 0, 20}, {"a", 0, 10}}, {{"a", 0, 14}}},
			want:    [][]tpo{{{"a", 0, 10}}, {{"a", 0, 20}}},
		},
		{
			name:    "partitions are independent",
			fetched: []tpo{{"a", 0, 0}, {"a", 1, 0}, {"a", 0, 1}, {"b", 0, 3}, {"a", 1, 1}},
			acks:    [][]tpo{{{"a", 1, 0}, {"a", 1, 1}, {"a", 0, 1}, {"b", 0, 3}}},
			want:    [][]tpo{{{"a", 1, 1}, {"b", 0, 3}}},
			pending: 1,
		},
		{
			name:    "unknown and repeated acks are ignored",
			fetched: []tpo{{"a", 0, 0}},
			acks:    [][]tpo{{{"a", 0, 7}, {"z", 0, 0}}, {{"a", 0, 0}, {"a", 0, 0}}},
			want:    [][]tpo{nil, {{"a", 0, 0}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newAckTracker()
			for _, f := range tt.fetched {
				tr.add(&kgo.Record{Topic: f.topic, Partition: f.partition, Offset: f.offset})
			}
			for i, step := range tt.acks {
				for _, a := range step {
					tr.ack(&kgo.Record{Topic: a.topic, Partition: a.partition, Offset: a.offset})
				}
				var got []tpo
				for _, r := range tr.committable() {
					got = append(got, tpo{r.Topic, r.Partition, r.Offset})
				}
				require.Equal(t, tt.want[i], got, "step %d", i)
			}
			require.Equal(t, tt.pending, tr.pending())
		})
	}
}

func TestAckTrackerPartitions(t *testing.T) {
	tr := newAckTracker()
	tr.add(&kgo.Record{Topic: "a", Partition: 2})
	tr.add(&kgo.Record{Topic: "a", Partition: 2, Offset: 1})
	tr.add(&kgo.Record{Topic: "b", Partition: 0})
	p := tr.partitions()
	require.Equal(t, map[string][]int32{"a": {2}, "b": {0}}, p)
}
