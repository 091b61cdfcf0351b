//go:build bench

package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/logcollect/logcollect/internal/ctl"
	"github.com/logcollect/logcollect/internal/fleet"
	"github.com/logcollect/logcollect/internal/testenv"
)

// TestFleet simulates a fleet of agents against one etcd (issue 17): BENCH_FLEET_AGENTS
// agents (default 1,000), each running the agent's own etcd source and registration
// (internal/fleet) on a client of its own, against an embedded etcd in a process of its own
// (bench/etcdserver), so that etcd's CPU and memory are its own. It measures:
//
//   - the ramp-up: the time until every agent is registered;
//   - the steady load over BENCH_FLEET_WINDOW (default 30s): etcd's CPU and RSS, the lease
//     keep-alives per second it receives (grpc_server_msg_received_total of LeaseKeepAlive),
//     the client side's CPU per agent;
//   - BENCH_FLEET_PUSHES (default 5) collect-config pushes through logctl's `config set
//     --all` code (ctl.ConfigStore.SetAll): its duration, and the time from its start to each
//     agent applying the new config (p50, p99, max over every agent and push);
//   - an etcd restart (SIGTERM, 5 s down, started again on the same data): the reconnect storm
//     (etcd's CPU in the 20 s after it is back), leases kept alive again, registrations lost, and the time from the
//     restart to a push reaching every agent.
//
// The results go to results/fleet.md.
func TestFleet(t *testing.T) {
	n := envInt(t, "BENCH_FLEET_AGENTS", 1000)
	window := envDuration(t, "BENCH_FLEET_WINDOW", 30*time.Second)
	pushes := envInt(t, "BENCH_FLEET_PUSHES", 5)
	bins := buildCommands(t, "./bench/etcdserver")
	dir := t.TempDir()
	cport, pport := freeTCPPort(t), freeTCPPort(t)
	startEtcd := func(run int) (*proc, string) {
		cmd := exec.Command(bins["etcdserver"], "-dir", filepath.Join(dir, "data"),
			"-client-port", fmt.Sprint(cport), "-peer-port", fmt.Sprint(pport))
		p, err := startProc("etcd", cmd, filepath.Join(dir, fmt.Sprintf("etcd-%d.log", run)), 500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.kill)
		deadline := time.Now().Add(60 * time.Second)
		for {
			if out, err := os.ReadFile(p.log); err == nil {
				if line, _, ok := strings.Cut(string(out), "\n"); ok && strings.HasPrefix(line, "http://") {
					return p, line
				}
			}
			if p.exited() || time.Now().After(deadline) {
				t.Fatalf("etcd did not start: %s", tail(p.log, 20))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	load := loadavg1()
	etcd, endpoint := startEtcd(0)
	eps := []string{endpoint}
	cli, err := ctl.NewEtcdClient(eps, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	store := ctl.NewConfigStore(cli, "", 10*time.Second)

	// Ramp-up.
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	agents := make([]*fleet.Agent, n)
	selfCPU0 := procCPU(os.Getpid())
	start := time.Now()
	for i := range agents {
		a, err := fleet.New(fleet.Config{Endpoints: eps, IP: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)})
		if err != nil {
			t.Fatal(err)
		}
		agents[i] = a
		wg.Go(func() { _ = a.Run(ctx) })
	}
	waitFor(t, 5*time.Minute, "every agent registered", func() bool {
		as, err := ctl.ListAgents(ctx, cli, 10*time.Second)
		return err == nil && len(as) == n
	})
	rampUp := time.Since(start)
	rampCPU := etcd.cpuNow()
	t.Logf("%d agents registered in %s (etcd CPU %s)", n, rampUp.Round(time.Millisecond), rampCPU)

	// Steady load.
	metricsURL := endpoint + "/metrics"
	ka0 := grpcReceived(t, metricsURL, "LeaseKeepAlive")
	cpu0, self0 := etcd.cpuNow(), procCPU(os.Getpid())
	time.Sleep(window)
	idleCPU := etcd.cpuNow() - cpu0
	selfIdle := procCPU(os.Getpid()) - self0
	keepAlives := (grpcReceived(t, metricsURL, "LeaseKeepAlive") - ka0) / window.Seconds()
	rssIdle, _ := etcd.memNow()
	t.Logf("steady: etcd CPU %.1f%%, RSS %.1f MiB, %.0f keep-alives/s; clients %.3f%% CPU per agent",
		pct(idleCPU, window), mib(rssIdle), keepAlives, pct(selfIdle, window)/float64(n))

	// Pushes.
	var lat, setAll []time.Duration
	for k := 1; k <= pushes; k++ {
		d, l := push(ctx, t, store, agents, fmt.Sprintf("push-%d", k))
		setAll, lat = append(setAll, d), append(lat, l...)
	}
	slices.Sort(lat)
	slices.Sort(setAll)

	// Restart: down for 5 s, back on the same data.
	lost0 := logged(agents, "etcd registration lost, registering again")
	kept0 := logged(agents, "etcd registration kept: its lease is alive, keeping it alive again")
	watchEnd0 := logged(agents, "watch ended, reading the key again")
	if err := etcd.stop(true, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	restart := time.Now()
	etcd, _ = startEtcd(1)
	back := time.Since(restart)
	cpuBack0 := etcd.cpuNow()
	stormDone, stormLat := push(ctx, t, store, agents, "after-restart")
	afterRestart := time.Since(restart)
	time.Sleep(max(0, 20*time.Second-time.Since(restart)))
	stormCPU := etcd.cpuNow() - cpuBack0
	stormWindow := time.Since(restart) - back
	rssStorm, hwmStorm := etcd.memNow()
	slices.Sort(stormLat)
	lost := logged(agents, "etcd registration lost, registering again") - lost0
	kept := logged(agents, "etcd registration kept: its lease is alive, keeping it alive again") - kept0
	watchEnds := logged(agents, "watch ended, reading the key again") - watchEnd0
	waitFor(t, 2*time.Minute, "every agent registered after the restart", func() bool {
		as, err := ctl.ListAgents(ctx, cli, 10*time.Second)
		return err == nil && len(as) == n
	})
	cancel()
	wg.Wait()
	selfTotal := procCPU(os.Getpid()) - selfCPU0

	var b strings.Builder
	fmt.Fprintf(&b, "# Fleet simulation: %d agents against one etcd\n\n", n)
	fmt.Fprintf(&b, "Measured %s on %d CPUs (load when started: %s). `go test -tags bench -run TestFleet -v ./bench/` (BENCH_FLEET_AGENTS=%d, BENCH_FLEET_WINDOW=%s, BENCH_FLEET_PUSHES=%d).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), fmt.Sprintf("%.2f", load), n, window, pushes)
	b.WriteString("Each simulated agent is the agent's own etcd source (a read, then a watch of its collect key) and registration (a key bound to a 15 s lease kept alive by clientv3, every 5 s) on an etcd client of its own, as logagent runs them (internal/fleet); the agents run in the test process, etcd (embedded 3.6, one member) in a process of its own (bench/etcdserver).\n\n")
	b.WriteString("| measure | value |\n|---|---:|\n")
	fmt.Fprintf(&b, "| ramp-up: every agent registered | %s (etcd CPU %s) |\n", rampUp.Round(time.Millisecond), rampCPU.Round(10*time.Millisecond))
	fmt.Fprintf(&b, "| steady: etcd CPU | %.1f%% of a core |\n", pct(idleCPU, window))
	fmt.Fprintf(&b, "| steady: etcd RSS | %.1f MiB |\n", mib(rssIdle))
	fmt.Fprintf(&b, "| steady: lease keep-alives received | %.0f/s |\n", keepAlives)
	fmt.Fprintf(&b, "| steady: client side, per agent (etcd source + registration) | %.4f%% of a core |\n", pct(selfIdle, window)/float64(n))
	fmt.Fprintf(&b, "| `config set --all` (SetAll: list, then one compare-and-swap per agent, 16 at a time) | median %s, max %s |\n",
		setAll[len(setAll)/2].Round(time.Millisecond), setAll[len(setAll)-1].Round(time.Millisecond))
	fmt.Fprintf(&b, "| push → applied by an agent (from the start of SetAll), %d pushes | p50 %s, p99 %s, max %s |\n",
		pushes, quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1))
	fmt.Fprintf(&b, "| restart: etcd serving again after its start | %s |\n", back.Round(time.Millisecond))
	fmt.Fprintf(&b, "| restart: reconnect storm, etcd CPU in the first %s | %s (%.0f%% of a core) |\n",
		stormWindow.Round(time.Second), stormCPU.Round(10*time.Millisecond), pct(stormCPU, stormWindow))
	fmt.Fprintf(&b, "| restart: etcd RSS after the storm (peak) | %.1f MiB (%.1f MiB) |\n", mib(rssStorm), mib(hwmStorm))
	fmt.Fprintf(&b, "| restart: a push reaches every agent, from the restart | %s (SetAll %s; p50 %s, p99 %s after its start) |\n",
		afterRestart.Round(time.Millisecond), stormDone.Round(time.Millisecond), quantile(stormLat, 0.5), quantile(stormLat, 0.99))
	fmt.Fprintf(&b, "| restart: leases the client gave up but etcd kept (kept alive again) / registrations lost and made again / watches ended and re-read | %d / %d / %d |\n", kept, lost, watchEnds)
	fmt.Fprintf(&b, "| test process CPU, whole run (%d clients) | %s |\n", n, selfTotal.Round(10*time.Millisecond))
	t.Log("\n" + b.String())
	writeResult(t, "fleet.md", []byte(b.String()))
}

// push writes a collect config (a task with field v) to every agent with logctl's SetAll
// and waits until every agent applied it. It returns SetAll's duration and, per agent, the
// time from SetAll's start to the apply.
func push(ctx context.Context, t *testing.T, store *ctl.ConfigStore, agents []*fleet.Agent, v string) (time.Duration, []time.Duration) {
	t.Helper()
	value := fmt.Appendf(nil, `[{"path":"/nonexistent/*.log","topic":"fleet","fields":{"v":%q}}]`, v)
	start := time.Now()
	for {
		_, err := store.SetAll(ctx, value)
		if err == nil {
			break
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("config set --all: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // etcd restarting, or agents re-registering
	}
	took := time.Since(start)
	lat := make([]time.Duration, len(agents))
	waitFor(t, 2*time.Minute, "push "+v+" applied by every agent", func() bool {
		for i, a := range agents {
			if lat[i] != 0 {
				continue
			}
			ap := a.Applied()
			if len(ap) == 0 || ap[len(ap)-1].Tasks[0].Fields["v"] != v {
				return false
			}
			lat[i] = ap[len(ap)-1].At.Sub(start)
		}
		return true
	})
	return took, lat
}

// logged sums what the agents logged with this message.
func logged(agents []*fleet.Agent, msg string) int {
	n := 0
	for _, a := range agents {
		n += a.Logged(msg)
	}
	return n
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// grpcReceived is etcd's grpc_server_msg_received_total for a gRPC method.
func grpcReceived(t *testing.T, metricsURL, method string) float64 {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, m := range fams["grpc_server_msg_received_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "grpc_method" && l.GetValue() == method {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(q*float64(len(d))))].Round(time.Millisecond)
}

func pct(cpu, wall time.Duration) float64 { return 100 * cpu.Seconds() / wall.Seconds() }

func freeTCPPort(t *testing.T) int {
	t.Helper()
	u, err := url.Parse("http://" + testenv.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}
