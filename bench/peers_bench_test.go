//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	peersResults = "peers.md"
	peersChart   = "peers.svg"
	peersCommand = "make bench BENCH_RUN=TestPeers"

	peerParts  = 10      // files of the "10 files" scenario
	liveMarker = "lcts=" // precedes the write time (Unix ns) at the end of each live line
	liveWarmup = 2 * time.Second
	liveTick   = 10 * time.Millisecond
	liveDrain  = 30 * time.Second // after the run, to consume the last records
	// liveFetchWait bounds how long the broker holds a fetch of the live
	// consumer: the delays it measures include up to this much.
	liveFetchWait = 20 * time.Millisecond
	telegrafVer   = "1.37.2"
	otelcolVer    = "0.165.0"
)

var peersBroker = flag.String("broker", os.Getenv("LOGCOLLECT_PEERS_BROKER"),
	"comma-separated Kafka brokers for TestPeers instead of a fresh kfake per run (or $LOGCOLLECT_PEERS_BROKER)")

// peersParams are the sizes of TestPeers, from the environment so that
// `make bench` can set them.
type peersParams struct {
	lines    int // backfill lines, split into peerParts files in the "10 files" scenario
	runs     int
	liveRate int // lines/s appended in the "live" scenario
	liveSecs int
}

func peersParamsFromEnv(t *testing.T) peersParams {
	t.Helper()
	p := peersParams{
		lines:    envInt(t, "LOGCOLLECT_PEERS_LINES", numLines),
		runs:     envInt(t, "LOGCOLLECT_PEERS_RUNS", runsPerCase),
		liveRate: envInt(t, "LOGCOLLECT_PEERS_LIVE_RATE", 10_000),
		liveSecs: envInt(t, "LOGCOLLECT_PEERS_LIVE_SECONDS", 20),
	}
	p.lines -= p.lines % peerParts
	return p
}

// peerInput is what one run of a contender reads.
type peerInput struct {
	files []string // the input files, complete (backfill) or growing (live)
	glob  string   // a pattern matching exactly files
	live  bool

	// TestFootprint: nofile, if set, is the contender's open-file limit
	// (ulimit -n, soft and hard); idle and idleEnd are watch's.
	nofile  int
	idle    time.Duration
	idleEnd func(p *proc)
}

// peerRun is what a contender's command is built from.
type peerRun struct {
	dir     string // scratch directory of the run
	brokers []string
	topic   string
	in      peerInput
}

// peer is one contender of TestPeers.
type peer struct {
	name    string
	version string
	missing string // why the contender cannot run; "" if it can
	ceiling bool   // the raw franz-go producer
	follows bool   // can follow a growing file (the live scenario)
	term    bool   // runs until SIGTERM; else exits once it has sent everything
	command func(r peerRun) (*exec.Cmd, error)
}

type peerResult struct {
	scenario, contender string
	run                 int
	lines               int64
	r                   runResult
	p50, p99            time.Duration // live: write → consumed from Kafka
}

func (p peerResult) rate() float64 { return float64(p.lines) / p.r.wall.Seconds() }

func (p peerResult) perCPU() float64 { return float64(p.lines) / p.r.cpu.Seconds() }

// TestPeers ships the same lines with logagent and with the shippers users
// would pick instead, into a fresh broker per run, and writes the figures to
// results/peers.md, a chart to results/peers.svg and the tables to the
// TestPeers part of BENCHMARKS.md. Peers are installed by
// peers/install.sh (cached); one that cannot be installed is reported, not
// skipped silently. Nothing is asserted about the figures.
func TestPeers(t *testing.T) {
	params := peersParamsFromEnv(t)
	data := accessLogLines(t, params.lines)
	parts := splitLines(t, data, params.lines, peerParts)
	b := buildBins(t)
	install := installPeers(t)
	peers := peerContenders(b, install)
	for _, p := range peers {
		if p.missing != "" {
			t.Logf("WARNING: %s does not run, its rows say so: %s", p.name, p.missing)
		}
	}
	e := environment(t, b)

	scenarios := []struct {
		name  string
		input func(dir string) peerInput
		lines int
	}{
		{"backfill", func(string) peerInput { return peerInput{files: []string{data}, glob: data} }, params.lines},
		{"10 files", func(string) peerInput {
			return peerInput{files: parts, glob: filepath.Join(filepath.Dir(parts[0]), "*.log")}
		}, params.lines},
		{"live", func(dir string) peerInput {
			path := filepath.Join(dir, "live", "access.log")
			return peerInput{files: []string{path}, glob: filepath.Join(dir, "live", "*.log"), live: true}
		}, params.liveRate * params.liveSecs},
	}

	var all []peerResult
	ran := map[string]bool{} // scenarios that -run selected
	for _, sc := range scenarios {
		t.Run(strings.ReplaceAll(sc.name, " ", "_"), func(t *testing.T) {
			ran[sc.name] = true
			for run := 1; run <= params.runs; run++ {
				for _, p := range peers {
					if p.missing != "" || (sc.name == "live" && !p.follows) {
						continue
					}
					busy := waitIdle(t)
					res, err := runPeer(t, b, p, sc.input(t.TempDir()), int64(sc.lines), params)
					if err != nil {
						t.Errorf("%s / %s run %d: %v", sc.name, p.name, run, err)
						continue
					}
					res.scenario, res.contender, res.run, res.r.busy = sc.name, p.name, run, busy
					t.Logf("%-8s %-13s run %d: %9s lines/s  wall %7.3fs  cpu %6.3fs  rss %6.1f MiB  p50 %s  p99 %s  broker cpu %6.3fs  other cpu %6.3fs%s",
						sc.name, p.name, run, thousands(res.rate()), res.r.wall.Seconds(), res.r.cpu.Seconds(), mib(res.r.maxRSS),
						res.p50, res.p99, res.r.brokerCPU.Seconds(), res.r.otherCPU.Seconds(), notes(res.r))
					all = append(all, res)
				}
			}
		})
	}

	if len(all) == 0 {
		t.Fatalf("no run succeeded: %s and BENCHMARKS.md are left as they were", peersResults)
	}
	var sums []peerSummary
	for _, sc := range scenarios {
		if ran[sc.name] {
			sums = append(sums, summarizePeers(sc.name, peers, all)...)
		}
	}
	md := peersMarkdown(e, params, data, peers, install, sums, all)
	t.Log("\n" + md)
	writeResult(t, peersResults, []byte(md))
	writeResult(t, peersChart, []byte(peersSVG(sums)))
	if !committedResults() {
		t.Logf("%s left alone: the results went to $BENCH_RESULTS_DIR", benchmarksFile)
		return
	}
	if err := updateBenchmarks(e, params, sums, all); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote the peer tables of %s", benchmarksFile)
}

// runPeer runs contender p once on in, into a fresh kfake (or the -broker
// Kafka), until want lines are in Kafka. For a live input it appends the lines
// at params.liveRate meanwhile and consumes them to time each one.
func runPeer(t *testing.T, b bins, p peer, in peerInput, want int64, params peersParams) (peerResult, error) {
	t.Helper()
	brokers, brokerPID := strings.Split(*peersBroker, ","), 0
	if *peersBroker == "" {
		var stop func()
		brokers, brokerPID, stop = startKfake(t, b.kfake)
		defer stop()
	}
	adm := newAdmin(t, brokers)
	defer adm.Close()
	topic, deleteTopic, err := freshTopic(t, adm, p.name)
	if err != nil {
		return peerResult{}, err
	}
	defer deleteTopic()

	dir := t.TempDir()
	w := watch{name: p.name, adm: adm, topic: topic, want: want, brokerPID: brokerPID, term: p.term,
		logPath: filepath.Join(dir, "contender.log"), idle: in.idle, idleEnd: in.idleEnd}
	ctx, cancel := context.WithCancel(t.Context())
	var (
		wg       sync.WaitGroup
		written  = make(chan error, 1)
		consumed = make(chan []time.Duration, 1)
	)
	defer func() {
		cancel()
		wg.Wait()
	}()
	if in.live {
		if err := os.MkdirAll(filepath.Dir(in.files[0]), 0o755); err != nil {
			return peerResult{}, err
		}
		for _, f := range in.files {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				return peerResult{}, err
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			consumed <- consumeDelays(ctx, brokers, topic, want)
		}()
		w.started = func() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				written <- appendLive(ctx, in.files, params.liveRate, want)
			}()
		}
	}

	cmd, err := p.command(peerRun{dir: dir, brokers: brokers, topic: topic, in: in})
	if err != nil {
		return peerResult{}, err
	}
	if in.nofile > 0 {
		// The shell sets the limit and becomes the contender (same pid).
		cmd = exec.Command("sh", append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, in.nofile), cmd.Path}, cmd.Args[1:]...)...)
	}
	r, err := measure(t, cmd, w)
	if err != nil {
		return peerResult{}, err
	}
	res := peerResult{lines: want, r: r}
	if !in.live {
		return res, nil
	}
	select {
	case d := <-consumed:
		if int64(len(d)) < want {
			return peerResult{}, fmt.Errorf("timed %d of %d live lines", len(d), want)
		}
		slices.Sort(d)
		res.p50, res.p99 = d[len(d)/2], d[len(d)*99/100]
	case <-time.After(liveDrain):
		return peerResult{}, fmt.Errorf("live lines not all consumed %s after the run", liveDrain)
	}
	if err := <-written; err != nil { // all its lines are in Kafka: the writer is done
		return peerResult{}, err
	}
	return res, nil
}

// appendLive appends total lines to the files at paths at rate lines/s in
// all, in a write per file every liveTick, after liveWarmup (the contender
// starts meanwhile). Each line ends with liveMarker and its write time in
// Unix nanoseconds; the lines of a tick are dealt to the files in turn.
func appendLive(ctx context.Context, paths []string, rate int, total int64) error {
	select {
	case <-time.After(liveWarmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	files := make([]*os.File, len(paths))
	for i, path := range paths {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		files[i] = f
	}
	g := newLineGen(2)
	tick := time.NewTicker(liveTick)
	defer tick.Stop()
	var (
		bufs = make([][]byte, len(files))
		line []byte
		n    int64
		from = time.Now()
	)
	for n < total {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		due := min(total, int64(time.Since(from).Seconds()*float64(rate)))
		for i := range bufs {
			bufs[i] = bufs[i][:0]
		}
		for ; n < due; n++ {
			line = g.next(line[:0])
			line = strconv.AppendInt(append(line[:len(line)-1], " "+liveMarker...), time.Now().UnixNano(), 10)
			i := n % int64(len(files))
			bufs[i] = append(append(bufs[i], line...), '\n')
		}
		for i, f := range files {
			if len(bufs[i]) == 0 {
				continue
			}
			if _, err := f.Write(bufs[i]); err != nil {
				return fmt.Errorf("append %s: %w", paths[i], err)
			}
		}
	}
	return nil
}

// consumeDelays consumes topic from its start until want records have come,
// or ctx is done, and returns for each record the time from the write time
// written in it (after liveMarker) to its arrival here.
func consumeDelays(ctx context.Context, brokers []string, topic string, want int64) []time.Duration {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(liveFetchWait))
	if err != nil {
		return nil
	}
	defer cl.Close()
	delays := make([]time.Duration, 0, want)
	for int64(len(delays)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return delays
		}
		now := time.Now().UnixNano()
		fs.EachRecord(func(r *kgo.Record) {
			if ts, ok := liveStamp(r.Value); ok {
				delays = append(delays, time.Duration(now-ts))
			}
		})
	}
	return delays
}

// liveStamp finds the write time after liveMarker in a record, whatever the
// contender wrapped the line in.
func liveStamp(v []byte) (int64, bool) {
	i := bytes.LastIndex(v, []byte(liveMarker))
	if i < 0 {
		return 0, false
	}
	digits := v[i+len(liveMarker):]
	end := 0
	for end < len(digits) && digits[end] >= '0' && digits[end] <= '9' {
		end++
	}
	ts, err := strconv.ParseInt(string(digits[:end]), 10, 64)
	return ts, err == nil
}

// splitLines splits the first lines of the file at path into n files of
// lines/n lines each, alone in a directory so that "*.log" matches them, and
// caches them next to it.
func splitLines(t *testing.T, path string, lines, n int) []string {
	t.Helper()
	dir := filepath.Join(benchDir(), fmt.Sprintf("split-%d-%d-v1", lines, n))
	files := make([]string, n)
	for i := range files {
		files[i] = filepath.Join(dir, fmt.Sprintf("access-%02d.log", i))
	}
	if _, err := os.Stat(files[n-1]); err == nil {
		return files
	}
	src, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r := bufio.NewReaderSize(src, 1<<20)
	tmp, err := os.MkdirTemp(benchDir(), "split-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // after the rename, a no-op
	for _, f := range files {
		out, err := os.Create(filepath.Join(tmp, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(out, 1<<20)
		for range lines / n {
			line, err := r.ReadSlice('\n')
			if err != nil {
				t.Fatalf("split %s: %v", path, err)
			}
			w.Write(line)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return files
}
