package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/kafkaclient"
	"github.com/logcollect/logcollect/internal/testenv"
)

// TestAcksAllSurvivesLeaderCrash is why the producer asks for acks=all: on a 3-broker cluster
// (replication 3, min.insync.replicas 2) the agent ships a file while the partition's followers
// are paused (SIGSTOP, as a GC pause or a slow disk would) and the leader is killed -9 right
// after it acknowledged what it alone holds; a follower, still in sync, takes over without
// those records, and the old leader drops them when it comes back. With the agent's producer
// settings (kafkaclient.ProducerOpts) the leader cannot acknowledge alone, so the agent keeps
// the lines and sends them again: none is lost. With leader-only acks (a test-only override of
// the same client) the agent moved on past lines the cluster no longer has: the test requires
// that loss, so it would notice if the agent's settings stopped mattering.
func TestAcksAllSurvivesLeaderCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-broker Kafka cluster")
	}
	c := testenv.StartKafkaCluster(t, testenv.KafkaClusterOptions{})
	for _, tc := range []struct {
		name     string
		override []kgo.Opt // appended to the agent's producer options
		wantLoss bool
	}{
		{name: "agent-settings"},
		{name: "leader-only-acks", override: []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}, wantLoss: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "acks-" + tc.name
			require.NoError(t, c.CreateTopic(topic, 1, nil))
			path := filepath.Join(t.TempDir(), "app.log")
			require.NoError(t, os.WriteFile(path, nil, 0o644))
			cfg := testConfig(t, c.Brokers(), t.TempDir())
			opts, err := kafkaclient.ProducerOpts(cfg.Kafka.ProducerConfig, testLog(t))
			require.NoError(t, err)
			cl, err := kgo.NewClient(append(opts, tc.override...)...)
			require.NoError(t, err)
			t.Cleanup(cl.Close)
			ra := startAgent(t, cfg, cl, collect.Task{Path: path, Topic: topic, StartPosition: "beginning"})
			acked := func() float64 { return testutil.ToFloat64(ra.m.RecordsSent.WithLabelValues(path, topic)) }

			w := startLineWriter(t, path)
			require.Eventually(t, func() bool { return acked() >= 1000 }, time.Minute, 10*time.Millisecond, "the agent ships")

			leader, err := c.Leader(topic, 0)
			require.NoError(t, err)
			var followers []int32
			for id := range int32(c.Size()) {
				if id+1 != leader {
					followers = append(followers, id+1)
				}
			}
			for _, f := range followers {
				require.NoError(t, c.Node(f).Pause())
			}
			// The agent counts a produce response's records one by one in their promises, so
			// the count may still be rising for records the followers fetched before the
			// pause (CI once counted 1,476 of them as acknowledged alone): let it settle
			// first. Pause, settle and window stay short of broker.session.timeout.ms
			// (3 s), so that the followers stay in sync and one of them takes over.
			before := settled(acked, 100*time.Millisecond, time.Second)
			deadline := time.Now().Add(time.Second)
			for acked() < before+200 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			ackedAlone := acked() - before
			require.NoError(t, c.Node(leader).Kill())
			for _, f := range followers {
				require.NoError(t, c.Node(f).Resume())
			}
			t.Logf("leader %d killed after acknowledging %v records with its followers %v paused", leader, ackedAlone, followers)
			if tc.wantLoss {
				require.GreaterOrEqual(t, ackedAlone, 200.0, "the leader acknowledged alone")
			} else {
				require.Zero(t, ackedAlone, "the leader acknowledged without its followers")
			}
			next, err := c.WaitLeader(topic, 0, leader, time.Minute)
			require.NoError(t, err)
			require.NoError(t, c.Node(leader).Start())
			written := w.stopAfter(1000)
			t.Logf("node %d leads; %d lines written", next, written)

			// Done when the agent has every line acknowledged.
			require.Eventually(t, func() bool {
				lag, ok := lagBytes(t, ra.m, path, topic)
				return ok && lag == 0 && acked() >= float64(written)
			}, 2*time.Minute, 100*time.Millisecond, "the agent catches up")
			seen := readLineNumbers(t, c.Brokers(), topic)
			var missing []int
			for n := range written {
				if seen[n] == 0 {
					missing = append(missing, n)
				}
			}
			t.Logf("%d of %d lines missing in Kafka, %d records read", len(missing), written, sum(seen))
			if tc.wantLoss {
				require.NotEmpty(t, missing, "leader-only acks lost nothing: the scenario no longer tests acks=all")
			} else {
				require.Empty(t, missing, "lines acknowledged and lost")
			}
		})
	}
}

// settled returns count() once it has not changed for quiet, or after at most limit (a
// count that keeps rising, as leader-only acknowledgements do).
func settled(count func() float64, quiet, limit time.Duration) float64 {
	end := time.Now().Add(limit)
	last, since := count(), time.Now()
	for time.Now().Before(end) && time.Since(since) < quiet {
		time.Sleep(5 * time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

// lineWriter appends numbered lines to a file (about 2,000 a second) until stopped.
type lineWriter struct {
	stop chan int // the number of lines to write once stopped
	done chan int // how many lines were written
}

func startLineWriter(t *testing.T, path string) *lineWriter {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	w := &lineWriter{stop: make(chan int), done: make(chan int, 1)}
	go func() {
		defer f.Close()
		n, end := 0, -1
		for end < 0 || n < end {
			select {
			case more := <-w.stop:
				end = n + more
			case <-time.After(10 * time.Millisecond):
			}
			var b strings.Builder
			for i := 0; i < 20 && (end < 0 || n < end); i++ {
				fmt.Fprintf(&b, "line %d\n", n)
				n++
			}
			if _, err := f.WriteString(b.String()); err != nil {
				panic(err)
			}
		}
		w.done <- n
	}()
	t.Cleanup(func() {
		select {
		case w.stop <- 0:
			<-w.done
		case <-w.done:
		}
	})
	return w
}

// stopAfter stops the writer once it has written more lines, and returns the lines written.
func (w *lineWriter) stopAfter(more int) int {
	w.stop <- more
	n := <-w.done
	w.done <- n // for the cleanup
	return n
}

// readLineNumbers reads the whole topic and counts the records of each line number.
func readLineNumbers(t *testing.T, brokers []string, topic string) map[int]int {
	t.Helper()
	seen := map[int]int{}
	for _, r := range testenv.ReadTopic(t, brokers, topic, 0, 0) {
		var n int
		for _, msgs := range messagesByFile(t, []*kgo.Record{r}) {
			_, err := fmt.Sscanf(msgs[0], "line %d", &n)
			require.NoError(t, err, "record %q", r.Value)
		}
		seen[n]++
	}
	return seen
}

func sum(m map[int]int) int {
	s := 0
	for _, v := range m {
		s += v
	}
	return s
}
