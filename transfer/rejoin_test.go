package transfer

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/logcollect/logcollect/transfer/transfertest"
)

// After the group session is lost and rejoining fails once (as when the
// broker is down: the poll then returns only that error), the transfer
// rejoins and consumes again. It used to poll on without allowing the
// rebalance that assigns the partitions back, and stalled for good.
func TestTransferRejoinsAfterGroupError(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(2))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	es := transfertest.NewES(t)
	cfg := testConfig(brokers, es.URL(), "app")
	produceAgentRecords(t, brokers, "app", 0, 1000, nil)
	startTransfer(t, cfg)
	waitCount(t, es, 1000, 10*time.Second)

	// The next heartbeat says the member is unknown (session lost), and the
	// join that follows fails.
	var heartbeatFailed, joinFailed atomic.Bool
	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.(*kmsg.HeartbeatRequest).ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.UnknownMemberID.Code
		heartbeatFailed.Store(true)
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.JoinGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if !heartbeatFailed.Load() {
			c.KeepControl()
			return nil, nil, false
		}
		resp := req.(*kmsg.JoinGroupRequest).ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		joinFailed.Store(true)
		return resp, nil, true
	})
	require.Eventually(t, joinFailed.Load, 20*time.Second, 10*time.Millisecond, "the join failed once")

	produceAgentRecords(t, brokers, "app", 1000, 2000, nil)
	waitCount(t, es, 2000, 30*time.Second)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "app")
}
