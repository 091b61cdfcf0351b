package ctl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// DefaultGroup is logtransfer's default consumer group.
const DefaultGroup = "logtransfer"

// PartitionLag is the lag of a consumer group on one partition.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"` // next offset to consume; -1 if none committed
	End       int64  `json:"end"`       // high watermark
	Lag       int64  `json:"lag"`       // End - Committed (from the start offset when nothing is committed); -1 if unknown
	Member    string `json:"member,omitempty"`
	Error     string `json:"error,omitempty"`
}

// GroupLag is the lag of one consumer group.
type GroupLag struct {
	Group      string         `json:"group"`
	State      string         `json:"state"`
	Partitions []PartitionLag `json:"partitions"`
	Total      int64          `json:"total"`
}

// Lag returns the lag of group on every partition it consumes or has
// committed offsets for, sorted by topic and partition. A group that does
// not exist is an error.
func Lag(ctx context.Context, adm *kadm.Client, brokers []string, group string, timeout time.Duration) (GroupLag, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		return GroupLag{}, connError("kafka", brokers, "lag of group "+group, err)
	}
	l, ok := lags[group]
	if !ok {
		return GroupLag{}, fmt.Errorf("kafka %v: group %s: not in the answer", brokers, group)
	}
	if err := l.Error(); err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			return GroupLag{}, fmt.Errorf("consumer group %q not found (no members, no committed offsets)", group)
		}
		return GroupLag{}, connError("kafka", brokers, "lag of group "+group, err)
	}
	out := GroupLag{Group: group, State: l.State, Partitions: []PartitionLag{}}
	for _, m := range l.Lag.Sorted() {
		p := PartitionLag{Topic: m.Topic, Partition: m.Partition, Committed: m.Commit.At, End: m.End.Offset, Lag: m.Lag}
		if m.Member != nil {
			p.Member = m.Member.ClientID + "@" + m.Member.ClientHost
		}
		if m.Err != nil {
			p.Error = m.Err.Error()
		}
		if p.Lag > 0 {
			out.Total += p.Lag
		}
		out.Partitions = append(out.Partitions, p)
	}
	return out, nil
}
