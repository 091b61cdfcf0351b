package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/ctl"
	"github.com/logcollect/logcollect/internal/fleet"
	"github.com/logcollect/logcollect/internal/testenv"
)

// etcdClusterAgents is how many simulated agents the etcd cluster test starts with; one more
// starts just before each fault, so that it registers as the leader is lost.
const etcdClusterAgents = 5

// TestEtcdCluster runs the agents' etcd side (internal/fleet: the agent's own EtcdSource and
// Registrar), logtransfer (the binary, following its topics key) and logctl's code (config
// set --all, agents) against a 3-member etcd cluster, all pointed at the three endpoints,
// while the leader is killed (no hand-over) or stopped (hand-over), in turn, and started
// again, CHAOS_FAULTS times. Meanwhile the collect config of every agent changes every 250 ms
// through logctl's SetAll, and so does the topics key (one more topic each time). At the end:
// every agent applied every change once, in order; logtransfer announced every new topic once,
// in order; every answer of `logctl agents` listed every agent; the registrations' leases
// survived or were renewed; a restarted member caught up with the cluster.
func TestEtcdCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-member etcd cluster and logtransfer, and kills etcd members")
	}
	sz := sizeFromEnv(t)
	bins := testenv.BuildBinaries(t, "logtransfer")
	cl := testenv.StartEtcdCluster(t, 3)
	eps := cl.Endpoints()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var agents []*fleet.Agent
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var lister agentLister
	startAgent := func() {
		a, err := fleet.New(fleet.Config{Endpoints: eps, IP: fmt.Sprintf("10.0.0.%d", len(agents)+1), RetryInterval: 200 * time.Millisecond})
		require.NoError(t, err)
		agents = append(agents, a)
		lister.started(a.IP())
		wg.Go(func() { _ = a.Run(ctx) })
	}
	for range etcdClusterAgents {
		startAgent()
	}
	tr := startTopicsWatcher(t, bins["logtransfer"], eps)
	ctlCli, err := ctl.NewEtcdClient(eps, 5*time.Second)
	require.NoError(t, err)
	defer ctlCli.Close()
	store := ctl.NewConfigStore(ctlCli, "", 5*time.Second)
	require.Eventually(t, func() bool {
		as, err := ctl.ListAgents(ctx, ctlCli, time.Second)
		return err == nil && len(as) == etcdClusterAgents
	}, 30*time.Second, 50*time.Millisecond, "agents registered")

	// logctl agents, every 200 ms until the end of the faults: every answer lists every agent
	// registered before, and none that was not started.
	listCtx, stopListing := context.WithCancel(ctx)
	wg.Go(func() { lister.run(listCtx, ctlCli) })

	// The changes: every 250 ms, until the faults are over.
	changes := &etcdChanges{store: store, cli: ctlCli}
	chCtx, stopChanges := context.WithCancel(ctx)
	changed := make(chan struct{})
	go func() {
		defer close(changed)
		changes.run(chCtx, 250*time.Millisecond)
	}()
	var notes []string
	for i := range sz.faults {
		time.Sleep(2 * time.Second)
		leader, err := cl.Leader(10 * time.Second)
		require.NoError(t, err)
		startAgent() // registers as the leader is lost
		m := cl.Members[leader]
		how, down := "killed", m.Kill
		if i%2 == 1 {
			how, down = "stopped", m.Stop
		}
		// Close waits for the member's client connections to drain: watch who leads
		// meanwhile.
		start := time.Now()
		closed := make(chan time.Duration, 1)
		go func() { down(); closed <- time.Since(start) }()
		next, err := cl.LeaderOtherThan(leader, 30*time.Second)
		require.NoError(t, err, "a new leader after m%d was %s", leader, how)
		elected := time.Since(start)
		notes = append(notes, fmt.Sprintf("leader m%d %s: m%d leads after %s (the member's Close took %s)",
			leader, how, next, elected.Round(10*time.Millisecond), (<-closed).Round(10*time.Millisecond)))
		time.Sleep(2 * time.Second)
		require.NoError(t, m.Start(), "m%d started again", leader)
		require.NoError(t, catchUp(ctx, m.Endpoints(), ctlCli, 30*time.Second), "m%d after its restart", leader)
	}
	time.Sleep(time.Second)
	stopChanges()
	<-changed
	stopListing()
	n := changes.done()
	require.NoError(t, changes.err, "the last change could not be written")
	require.Positive(t, n)

	// Every agent applies every change once, in order; logtransfer announces every topic.
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range agents {
		for last(a) != n && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i, a := range agents {
		var got []int
		for _, ap := range a.Applied() {
			v, err := strconv.Atoi(ap.Tasks[0].Fields["v"])
			require.NoError(t, err)
			got = append(got, v)
		}
		require.NotEmpty(t, got, "agent %s applied nothing", a.IP())
		// The first agents get every change; a later one every change from the first
		// written after it registered.
		first := got[0]
		if i < etcdClusterAgents {
			first = 1
		}
		var want []int
		for v := first; v <= n; v++ {
			want = append(want, v)
		}
		require.Equal(t, want, got, "agent %s: the changes applied", a.IP())
		regs := a.Logged("registered in etcd")
		require.GreaterOrEqual(t, regs, 1, "agent %s registered", a.IP())
		notes = append(notes, fmt.Sprintf("agent %s: %d changes applied, registered %d time(s) (lease lost %d)", a.IP(), len(got), regs, a.Logged("etcd registration lost, registering again")))
	}
	var topics []string
	require.Eventually(t, func() bool {
		topics = tr.announced()
		return len(topics) == n
	}, 30*time.Second, 100*time.Millisecond, "logtransfer announced %d topics of %d", len(tr.announced()), n)
	for i, tp := range topics {
		require.Equal(t, fmt.Sprintf("t%d", i+1), tp, "logtransfer's topic announcements, in order")
	}
	as, err := ctl.ListAgents(ctx, ctlCli, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, as, len(agents), "logctl agents at the end")
	lists, wrong, failed := lister.counts()
	require.Zero(t, wrong, "answers of logctl agents without every registered agent or with one not started: %v", lister.firstWrong)
	notes = append(notes, fmt.Sprintf("%d changes; logctl agents: %d answers, all right, %d failed (during elections)", n, lists, failed))
	for _, s := range notes {
		t.Log(s)
	}
}

// last is the value of the last config the agent applied (0: none).
func last(a *fleet.Agent) int {
	ap := a.Applied()
	if len(ap) == 0 {
		return 0
	}
	v, _ := strconv.Atoi(ap[len(ap)-1].Tasks[0].Fields["v"])
	return v
}

// catchUp waits until the member at endpoints, read on its own (serializable: no quorum), has
// the cluster's latest revision.
func catchUp(ctx context.Context, endpoints []string, cluster *clientv3.Client, timeout time.Duration) error {
	cli, err := ctl.NewEtcdClient(endpoints, 5*time.Second)
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(timeout)
	for {
		want, err := cluster.Get(ctx, "/logtransfer/topics")
		if err == nil {
			got, err2 := cli.Get(ctx, "/logtransfer/topics", clientv3.WithSerializable())
			if err2 == nil && got.Header.Revision >= want.Header.Revision {
				return nil
			}
			err = err2
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("member not caught up after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// etcdChanges writes change 1, 2, ...: every agent's collect config through logctl's SetAll
// (a task whose field v is the change's number) and the topics key (topics t1 … tN). A
// change that fails (etcd electing) is written again until it succeeds.
type etcdChanges struct {
	store *ctl.ConfigStore
	cli   *clientv3.Client
	mu    sync.Mutex
	n     int   // changes written
	err   error // of the last attempt
}

// run writes the changes until ctx is done. A change being retried when ctx ends is still
// retried, for up to lastChangeGrace, so that the last change is whole: the test stops the
// changes at any moment, an election (or a slow member on a loaded machine) included.
func (c *etcdChanges) run(ctx context.Context, every time.Duration) {
	for i := 1; ctx.Err() == nil; i++ {
		var giveUp time.Time
		for {
			err := c.write(ctx, i)
			c.mu.Lock()
			c.err = err
			if err == nil {
				c.n = i
			}
			c.mu.Unlock()
			if err == nil {
				break
			}
			if ctx.Err() == nil {
				sleep(ctx, 100*time.Millisecond)
				continue
			}
			if giveUp.IsZero() {
				giveUp = time.Now().Add(lastChangeGrace)
			}
			if time.Now().After(giveUp) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		sleep(ctx, every)
	}
}

// lastChangeGrace is how long the change in progress when the test stops the changes is
// still retried.
const lastChangeGrace = 30 * time.Second

func (c *etcdChanges) write(ctx context.Context, i int) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := c.store.SetAll(wctx, fmt.Appendf(nil, `[{"path":"/nonexistent/*.log","topic":"t","fields":{"v":"%d"}}]`, i))
	if err != nil {
		return fmt.Errorf("config set --all: %w", err)
	}
	topics := make([]string, i)
	for j := range topics {
		topics[j] = fmt.Sprintf("%q", fmt.Sprintf("t%d", j+1))
	}
	if _, err := c.cli.Put(wctx, "/logtransfer/topics", "["+strings.Join(topics, ",")+"]"); err != nil {
		return fmt.Errorf("put topics: %w", err)
	}
	return nil
}

// done returns how many changes were written.
func (c *etcdChanges) done() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// agentLister runs logctl's ListAgents every 200 ms and counts its answers. An answer is
// right when it lists every agent that a right answer listed before (a registration does
// not vanish) and no agent that was not started.
type agentLister struct {
	mu                   sync.Mutex
	startedIPs, seen     map[string]bool
	lists, wrong, failed int
	firstWrong           []string
}

func (l *agentLister) started(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.startedIPs == nil {
		l.startedIPs, l.seen = map[string]bool{}, map[string]bool{}
	}
	l.startedIPs[ip] = true
}

func (l *agentLister) run(ctx context.Context, cli *clientv3.Client) {
	for ctx.Err() == nil {
		as, err := ctl.ListAgents(ctx, cli, 2*time.Second)
		l.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				l.failed++
			}
		} else {
			l.check(as)
		}
		l.mu.Unlock()
		sleep(ctx, 200*time.Millisecond)
	}
}

func (l *agentLister) check(as []ctl.Agent) {
	listed := map[string]bool{}
	ok := true
	for _, a := range as {
		listed[a.IP] = true
		ok = ok && l.startedIPs[a.IP]
	}
	for ip := range l.seen {
		ok = ok && listed[ip]
	}
	if !ok {
		l.wrong++
		if l.firstWrong == nil {
			for _, a := range as {
				l.firstWrong = append(l.firstWrong, a.IP)
			}
		}
		return
	}
	l.lists++
	for ip := range listed {
		l.seen[ip] = true
	}
}

func (l *agentLister) counts() (lists, wrong, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lists, l.wrong, l.failed
}

// topicsWatcher is a logtransfer following its topics key in the etcd cluster. Kafka and
// Elasticsearch are addresses nobody listens on: it consumes nothing, but its topics watch
// runs as always and logs each new topic.
type topicsWatcher struct{ self *testenv.Self }

func startTopicsWatcher(t *testing.T, bin string, endpoints []string) *topicsWatcher {
	cfg := filepath.Join(t.TempDir(), "transfer.yaml")
	addr := testenv.FreeAddr(t)
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `kafka:
  brokers: [%s]
  topics: [t0]
etcd:
  endpoints: [%s]
  dial_timeout: 2s
elasticsearch:
  urls: [http://%s]
index: "{topic}"
metrics:
  listen: %s
`, testenv.FreeAddr(t), strings.Join(endpoints, ","), testenv.FreeAddr(t), addr), 0o644))
	w := &topicsWatcher{self: testenv.StartBinary(t, 40, bin, "-config", cfg)}
	testenv.WaitHealthy(t, addr)
	return w
}

// announced returns the topics logtransfer logged as new, in order.
func (w *topicsWatcher) announced() []string {
	var out []string
	for line := range strings.SplitSeq(w.self.Log(), "\n") {
		if !strings.Contains(line, "consuming new topics from etcd") {
			continue
		}
		_, rest, ok := strings.Cut(line, "topics=")
		if !ok {
			continue
		}
		if q, ok := strings.CutPrefix(rest, `"`); ok { // several: topics="[t1 t2]"
			rest, _, _ = strings.Cut(q, `"`)
		} else {
			rest = strings.Fields(rest)[0]
		}
		out = append(out, strings.Fields(strings.Trim(rest, "[]"))...)
	}
	return out
}
