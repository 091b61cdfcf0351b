package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/testenv"
)

// groupPartitions is the partition count of the consumer-group test's topic.
const groupPartitions = 12

// groupSize is how long the consumer-group test runs: the short version by default, `make
// chaos` sets CHAOS_GROUP_RATE (records per second) and CHAOS_GROUP_CYCLES (how many times
// the steps below are run).
type groupSize struct{ rate, cycles int }

func groupSizeFromEnv(t *testing.T) groupSize {
	s := groupSize{rate: 1000, cycles: 1}
	for name, dst := range map[string]*int{"CHAOS_GROUP_RATE": &s.rate, "CHAOS_GROUP_CYCLES": &s.cycles} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			require.NoError(t, err, name)
			*dst = n
		}
	}
	return s
}

// groupStep is one change to the group of logtransfer instances.
type groupStep struct {
	name    string
	members int // instances running after the step
	do      func(g *transferGroup) error
}

// TestTransferGroup runs logtransfer as a consumer group of up to 3 instances on a
// 12-partition topic of the real Kafka broker, indexing into the real Elasticsearch, while a
// producer writes a steady stream of numbered records: 1 instance, scaled out to 3 one at a
// time, one of them killed -9 and restarted, scaled in to 1 one at a time (SIGTERM). At the
// end every record must be indexed exactly once (by content and by Kafka offset). Each step's
// pause is measured from the group's committed offsets, read every 100 ms: the longest time a
// partition's commit did not move while the step took effect (the producer writes to every
// partition all the time, so a commit stands still only while nobody indexes its partition).
func TestTransferGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 3 logtransfer instances against real Kafka and Elasticsearch")
	}
	sz := groupSizeFromEnv(t)
	srv := &servers{
		bins:  testenv.BuildBinaries(t, "logtransfer"),
		kafka: testenv.StartKafka(t),
		es:    testenv.StartElasticsearch(t),
	}
	g := newTransferGroup(t, srv, "group")
	steps := []groupStep{
		{name: "scale out 1→2", members: 2, do: func(g *transferGroup) error { return g.start(1) }},
		{name: "scale out 2→3", members: 3, do: func(g *transferGroup) error { return g.start(2) }},
		{name: "kill -9 one of 3, restart", members: 3, do: func(g *transferGroup) error { return g.kill(1) }},
		{name: "scale in 3→2 (SIGTERM)", members: 2, do: func(g *transferGroup) error { return g.stop(2) }},
		{name: "scale in 2→1 (SIGTERM)", members: 1, do: func(g *transferGroup) error { return g.stop(1) }},
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	prod := startGroupProducer(ctx, t, srv, g.topic, sz.rate)
	w := startCommitWatch(ctx, t, srv, g.group)
	require.NoError(t, g.start(0))
	settle := func(what string, members int) {
		require.NoError(t, w.waitSettled(ctx, members, 2*time.Second, 2*time.Minute), "after %s", what)
	}
	settle("start", 1)
	var pauses []stepPause
	for c := range sz.cycles {
		for _, st := range steps {
			at := time.Now()
			require.NoError(t, st.do(g), "%s (cycle %d)", st.name, c+1)
			settle(st.name, st.members)
			pauses = append(pauses, w.pause(st.name, at, time.Now()))
		}
		if c < sz.cycles-1 {
			require.NoError(t, g.start(1))
			require.NoError(t, g.start(2))
			settle("restore 3 instances", 3)
			require.NoError(t, g.stop(1))
			require.NoError(t, g.stop(2))
			settle("back to 1 instance", 1)
		}
	}
	produced, err := prod.stop()
	require.NoError(t, err)
	deadline := time.Now().Add(2 * time.Minute)
	for g.p.esCount() != produced {
		require.True(t, time.Now().Before(deadline), "after 2 min: %d documents of %d records", g.p.esCount(), produced)
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // anything late would show now
	docs, err := g.docs()
	require.NoError(t, err)
	perSeq, perOffset := map[int]int{}, map[string]int{}
	redelivered, noVersion := 0, 0
	for _, d := range docs {
		seq, ok := parseGroupLine(d.Message)
		require.True(t, ok, "indexed message is not a record produced: %q", d.Message)
		perSeq[seq]++
		perOffset[fmt.Sprintf("%d/%d", d.Kafka.Partition, d.Kafka.Offset)]++
		switch {
		case d.version == 0:
			noVersion++
		case d.version > 1:
			redelivered++
		}
	}
	var missing, dupSeq []int
	for seq := range produced {
		switch {
		case perSeq[seq] == 0:
			missing = append(missing, seq)
		case perSeq[seq] > 1:
			dupSeq = append(dupSeq, seq)
		}
	}
	dupOffsets := 0
	for _, n := range perOffset {
		dupOffsets += n - 1
	}
	report := formatGroupReport(sz, produced, len(docs), len(missing), len(dupSeq), dupOffsets, redelivered, w.baseline(), pauses)
	t.Log("\n" + report)
	if path := os.Getenv("CHAOS_GROUP_REPORT"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(report), 0o644))
	}
	require.Zero(t, noVersion, "documents read without their _version")
	require.Empty(t, missing, "records produced and not indexed (%d)", len(missing))
	require.Empty(t, dupSeq, "records indexed more than once")
	require.Zero(t, dupOffsets, "Kafka offsets indexed more than once")
	require.Equal(t, produced, len(docs))
	for i, self := range g.running {
		if self != nil {
			require.NoError(t, self.Stop(30*time.Second), "logtransfer %d", i)
		}
	}
}

// transferGroup is up to 3 logtransfer instances of one consumer group, each with its own
// metrics address.
type transferGroup struct {
	t            *testing.T
	p            *pipeline // for its Elasticsearch helpers
	topic, group string
	cfgs         [3]string
	addrs        [3]string
	running      [3]*testenv.Self
}

func newTransferGroup(t *testing.T, srv *servers, name string) *transferGroup {
	g := &transferGroup{t: t, p: &pipeline{t: t, srv: srv, name: name}, topic: name + "-a", group: "chaos-" + name}
	cl, err := kgo.NewClient(kgo.SeedBrokers(srv.kafka.Brokers()...))
	require.NoError(t, err)
	_, err = kadm.NewClient(cl).CreateTopics(t.Context(), groupPartitions, 1, nil, g.topic)
	cl.Close()
	require.NoError(t, err)
	dir := t.TempDir()
	for i := range g.cfgs {
		g.addrs[i] = testenv.FreeAddr(t)
		g.cfgs[i] = filepath.Join(dir, fmt.Sprintf("transfer-%d.yaml", i))
		require.NoError(t, os.WriteFile(g.cfgs[i], transferConfig(srv, []string{g.topic}, g.group, srv.es.URL(), g.addrs[i], 1, 0), 0o644))
	}
	return g
}

func (g *transferGroup) start(i int) error {
	if g.running[i] != nil {
		return fmt.Errorf("logtransfer %d runs already", i)
	}
	g.running[i] = testenv.StartBinary(g.t, 40, g.p.srv.bins["logtransfer"], "-config", g.cfgs[i])
	testenv.WaitHealthy(g.t, g.addrs[i])
	return nil
}

// kill kills instance i with SIGKILL and starts it again.
func (g *transferGroup) kill(i int) error {
	if err := g.running[i].Kill(); err != nil {
		return fmt.Errorf("kill logtransfer %d: %w", i, err)
	}
	g.running[i] = nil
	return g.start(i)
}

// stop stops instance i with SIGTERM; it must exit 0.
func (g *transferGroup) stop(i int) error {
	if err := g.running[i].Stop(30 * time.Second); err != nil {
		return fmt.Errorf("stop logtransfer %d: %w", i, err)
	}
	g.running[i] = nil
	return nil
}

// groupLine is the message of the record with sequence number seq.
func groupLine(seq int) string {
	return fmt.Sprintf("group seq=%08d GET /item/%d HTTP/1.1 200 512 padding-to-a-typical-log-line-length", seq, seq)
}

func parseGroupLine(s string) (int, bool) {
	v, ok := strings.CutPrefix(s, "group seq=")
	if !ok || len(v) < 8 {
		return 0, false
	}
	seq, err := strconv.Atoi(v[:8])
	return seq, err == nil && groupLine(seq) == s
}

// groupProducer writes numbered records to every partition of the topic, round-robin, at a
// steady rate, until stopped.
type groupProducer struct {
	cancel context.CancelFunc
	done   chan struct{}
	n      int // records acknowledged, once done
	err    error
}

func startGroupProducer(ctx context.Context, t *testing.T, srv *servers, topic string, rate int) *groupProducer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(srv.kafka.Brokers()...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(ctx)
	p := &groupProducer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer cl.Close()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		batch := max(1, rate/100)
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
			recs := make([]*kgo.Record, batch)
			for i := range recs {
				v := fmt.Appendf(nil, `{"@timestamp":%q,"message":%q}`, time.Now().UTC().Format(time.RFC3339Nano), groupLine(p.n+i))
				recs[i] = &kgo.Record{Value: v}
			}
			// Synchronous: the sequence numbers stay dense (p.n counts acknowledged records).
			if err := cl.ProduceSync(context.WithoutCancel(ctx), recs...).FirstErr(); err != nil {
				p.err = err
				return
			}
			p.n += batch
		}
	}()
	t.Cleanup(func() { cancel(); <-p.done })
	return p
}

// stop stops the producer and returns how many records it wrote.
func (p *groupProducer) stop() (int, error) {
	p.cancel()
	<-p.done
	if p.err != nil {
		return p.n, fmt.Errorf("produce: %w", p.err)
	}
	return p.n, nil
}

// commitWatch reads the group's committed offsets and members every 100 ms and keeps, per
// partition, when the commit moved.
type commitWatch struct {
	mu      sync.Mutex
	moves   map[int32][]time.Time // commit advances, by partition
	members int                   // members in the last stable description
	err     error
}

func startCommitWatch(ctx context.Context, t *testing.T, srv *servers, group string) *commitWatch {
	cl, err := kgo.NewClient(kgo.SeedBrokers(srv.kafka.Brokers()...))
	require.NoError(t, err)
	adm := kadm.NewClient(cl)
	w := &commitWatch{moves: map[int32][]time.Time{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := map[int32]int64{}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			offs, err := adm.FetchOffsets(ctx, group)
			now := time.Now()
			dg, derr := adm.DescribeGroups(ctx, group)
			w.mu.Lock()
			w.err = err
			if err == nil {
				offs.Each(func(o kadm.OffsetResponse) {
					if o.At > last[o.Partition] {
						last[o.Partition] = o.At
						w.moves[o.Partition] = append(w.moves[o.Partition], now)
					}
				})
			}
			if derr == nil {
				if d, ok := dg[group]; ok && d.State == "Stable" {
					w.members = len(d.Members)
				} else {
					w.members = -1
				}
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { <-done; cl.Close() })
	return w
}

// waitSettled waits until the group is stable with members members and every partition's
// commit has moved within the last hold, for at most timeout.
func (w *commitWatch) waitSettled(ctx context.Context, members int, hold, timeout time.Duration) error {
	start := time.Now()
	for {
		w.mu.Lock()
		ok := w.members == members && len(w.moves) == groupPartitions
		for _, mv := range w.moves {
			ok = ok && time.Since(mv[len(mv)-1]) < hold && mv[len(mv)-1].After(start)
		}
		n, err := w.members, w.err
		w.mu.Unlock()
		if ok && time.Since(start) >= hold {
			return nil
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("not settled after %s: %d members in a stable group (want %d), last offsets error %v", timeout, n, members, err)
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// stepPause is what a step cost: the longest stand-still of a partition's commit in the
// step's window, how many partitions stood still more than a second, and the steady gap.
type stepPause struct {
	name    string
	longest time.Duration
	stalled int // partitions whose commit stood still > 1 s
	took    time.Duration
}

// pause measures the step that started at from and settled at to: per partition, the
// longest time between two commit moves (or from the last move before from to the first
// after it) within the window.
func (w *commitWatch) pause(name string, from, to time.Time) stepPause {
	w.mu.Lock()
	defer w.mu.Unlock()
	sp := stepPause{name: name, took: to.Sub(from)}
	for _, mv := range w.moves {
		var longest time.Duration
		for i := 1; i < len(mv); i++ {
			if mv[i].Before(from) || mv[i-1].After(to) {
				continue
			}
			longest = max(longest, mv[i].Sub(mv[i-1]))
		}
		sp.longest = max(sp.longest, longest)
		if longest > time.Second {
			sp.stalled++
		}
	}
	return sp
}

// baseline is the median time between two commit moves of a partition over the run: the
// gap every partition has without a rebalance.
func (w *commitWatch) baseline() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gaps []time.Duration
	for _, mv := range w.moves {
		for i := 1; i < len(mv); i++ {
			gaps = append(gaps, mv[i].Sub(mv[i-1]))
		}
	}
	if len(gaps) == 0 {
		return 0
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}

// groupDoc is what the checks read of an indexed document, with its version (above 1: the
// record was indexed again, over the same id).
type groupDoc struct {
	esDoc
	version int
}

// docs reads every document of the topic's index with the scroll API.
func (g *transferGroup) docs() ([]groupDoc, error) {
	var out []groupDoc
	err := g.p.scroll(g.topic, func(_ string, version int, d esDoc) {
		out = append(out, groupDoc{esDoc: d, version: version})
	})
	return out, err
}

func formatGroupReport(sz groupSize, produced, docs, missing, dupSeq, dupOffsets, redelivered int, baseline time.Duration, pauses []stepPause) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d records at %d records/s over %d partitions, %d cycle(s); logtransfer session_timeout 6s, flush_interval 200ms.\n",
		produced, sz.rate, groupPartitions, sz.cycles)
	fmt.Fprintf(&b, "Documents %d, missing %d, records indexed twice (by content) %d, offsets indexed twice %d; records indexed again over their own id (_version > 1): %d.\n",
		docs, missing, dupSeq, dupOffsets, redelivered)
	fmt.Fprintf(&b, "A partition's commit moves every %s (median) without a rebalance.\n\n", baseline.Round(time.Millisecond))
	// One row per step, over the cycles: the median and the largest of the cycles' figures.
	var names []string
	byName := map[string][]stepPause{}
	for _, p := range pauses {
		if _, ok := byName[p.name]; !ok {
			names = append(names, p.name)
		}
		byName[p.name] = append(byName[p.name], p)
	}
	b.WriteString("| step | longest pause of a partition (median / max of the cycles) | partitions paused > 1 s (max) | settled after (median) |\n|---|---:|---:|---:|\n")
	for _, name := range names {
		ps := byName[name]
		var longest, took []time.Duration
		stalled := 0
		for _, p := range ps {
			longest, took = append(longest, p.longest), append(took, p.took)
			stalled = max(stalled, p.stalled)
		}
		slices.Sort(longest)
		slices.Sort(took)
		fmt.Fprintf(&b, "| %s | %s / %s | %d | %s |\n", name, longest[len(longest)/2].Round(100*time.Millisecond),
			longest[len(longest)-1].Round(100*time.Millisecond), stalled, took[len(took)/2].Round(100*time.Millisecond))
	}
	return b.String()
}
