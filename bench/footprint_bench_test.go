//go:build bench

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	footprintResults = "footprint.md"
	footprintCommand = "go test -tags bench -run TestFootprint -v -timeout 120m ./bench/"
	footprintNofile  = 1024 // ulimit -n of the 10,000-file scenario: a common default soft limit
)

// footprintScenario is one case of TestFootprint.
type footprintScenario struct {
	name   string
	files  int  // input files
	lines  int  // lines in all
	live   bool // appended while the contender runs, at rate lines/s
	rate   int
	idle   bool // measured idle once everything is shipped
	nofile int  // the contender's ulimit -n, 0 to inherit
}

// footprintParams are the sizes of TestFootprint, from the environment.
type footprintParams struct {
	lines    int           // backfill lines of the 1-, 1,000- and 10,000-file scenarios
	runs     int           // per contender and scenario
	idle     time.Duration // idle window
	liveSecs int
	profile  bool     // one more logagent run per scenario with CPU and heap profiles
	before   string   // a logagent binary built from an earlier commit, run as "logagent (before)"
	memLimit string   // a GOMEMLIMIT for one more logagent contender, to compare with memory_limit's default
	codecs   []string // more logagent contenders, one with each of these kafka.compression codecs
}

func footprintParamsFromEnv(t *testing.T) footprintParams {
	t.Helper()
	return footprintParams{
		lines:    envInt(t, "BENCH_FOOTPRINT_LINES", numLines),
		runs:     envInt(t, "BENCH_FOOTPRINT_RUNS", 1),
		idle:     envDuration(t, "BENCH_FOOTPRINT_IDLE", time.Minute),
		liveSecs: envInt(t, "BENCH_FOOTPRINT_LIVE_SECONDS", 20),
		profile:  os.Getenv("BENCH_FOOTPRINT_PROFILE") != "0",
		before:   os.Getenv("BENCH_FOOTPRINT_BEFORE"),
		memLimit: os.Getenv("BENCH_FOOTPRINT_GOMEMLIMIT"),
		codecs:   strings.FieldsFunc(os.Getenv("BENCH_FOOTPRINT_CODECS"), func(r rune) bool { return r == ',' }),
	}
}

// TestFootprint measures what logagent costs a busy host (issue 21) side by
// side with rsyslog (imfile → omkafka) in the same run: memory and CPU with
// many files in backfill, idle CPU and RSS with 100 and 1,000 files open,
// 10,000 small files under ulimit -n 1024, and live tailing at 10,000 and
// 50,000 lines/s into one and ten files (CPU per line, write-to-Kafka
// delay). Each contender runs with its defaults (logagent: the default
// scan_frequency, close_inactive and harvester limit). With
// BENCH_FOOTPRINT_BEFORE set to a logagent binary built from an earlier
// commit (CGO_ENABLED=0 go build -trimpath, as buildCommands builds), that
// binary runs too, as "logagent (before)"; with BENCH_FOOTPRINT_GOMEMLIMIT
// (such as 32MiB), logagent runs once more with that GOMEMLIMIT, which wins
// over its memory_limit; with BENCH_FOOTPRINT_CODECS (such as none,snappy),
// once more with each kafka.compression codec, as "logagent (none)": rsyslog
// ships uncompressed, and a live tail pays for compression far more than a
// backfill does (BENCHMARKS.md). With profiles on
// (BENCH_FOOTPRINT_PROFILE, default 1), one more logagent run per scenario,
// as bench/agentprof, writes a CPU profile and, at the end of the idle
// window, a heap profile beside the results. BENCH_FOOTPRINT_CONTENDERS,
// if set, names the contenders that run (comma-separated: rsyslog,
// logagent, logagent (before), logagent (GOMEMLIMIT=...), logagent (none)).
// Nothing is asserted.
func TestFootprint(t *testing.T) {
	fp := footprintParamsFromEnv(t)
	lines := fp.lines - fp.lines%10_000
	data := accessLogLines(t, lines)
	b := buildBins(t)
	install := installPeers(t, "rsyslog")
	var contenders []peer
	for _, p := range peerContenders(b, install) {
		if p.name == "rsyslog" {
			contenders = append(contenders, p)
		}
	}
	agent := func(name, bin, codec string, env ...string) peer {
		return peer{name: name, follows: true, term: true, version: bin,
			command: func(r peerRun) (*exec.Cmd, error) {
				config := filepath.Join(r.dir, "agent.yaml")
				err := os.WriteFile(config, []byte(agentConfigFiles(r.brokers, r.dir, r.in.glob, r.topic, "json", "{}", codec)), 0o644)
				cmd := exec.Command(bin, "-config", config)
				if len(env) > 0 {
					cmd.Env = append(os.Environ(), env...)
				}
				return cmd, err
			}}
	}
	if fp.before != "" {
		contenders = append(contenders, agent("logagent (before)", fp.before, compression))
	}
	contenders = append(contenders, agent("logagent", b.logagent, compression))
	if fp.memLimit != "" {
		contenders = append(contenders, agent("logagent (GOMEMLIMIT="+fp.memLimit+")", b.logagent, compression, "GOMEMLIMIT="+fp.memLimit))
	}
	for _, codec := range fp.codecs {
		contenders = append(contenders, agent("logagent ("+codec+")", b.logagent, codec))
	}
	if only := os.Getenv("BENCH_FOOTPRINT_CONTENDERS"); only != "" {
		contenders = slices.DeleteFunc(contenders, func(p peer) bool { return !slices.Contains(strings.Split(only, ","), p.name) })
	}
	e := environment(t, b)

	scenarios := []footprintScenario{
		{name: "backfill", files: 1, lines: lines},
		{name: "100 files", files: 100, lines: lines / 10, idle: true},
		{name: "1,000 files", files: 1000, lines: lines, idle: true},
		{name: "10,000 files", files: 10_000, lines: lines, idle: true, nofile: footprintNofile},
		{name: "live 10k/s, 1 file", files: 1, live: true, rate: 10_000},
		{name: "live 50k/s, 1 file", files: 1, live: true, rate: 50_000},
		{name: "live 10k/s, 10 files", files: 10, live: true, rate: 10_000},
		{name: "live 50k/s, 10 files", files: 10, live: true, rate: 50_000},
	}
	var all []peerResult
	var profiles, failed []string
	for _, sc := range scenarios {
		if sc.live {
			sc.lines = sc.rate * fp.liveSecs
		}
		input := func(dir string) peerInput {
			in := peerInput{live: sc.live, nofile: sc.nofile}
			if sc.idle {
				in.idle = fp.idle
			}
			switch {
			case sc.live:
				for i := range sc.files {
					in.files = append(in.files, filepath.Join(dir, "live", fmt.Sprintf("app-%02d.log", i)))
				}
				in.glob = filepath.Join(dir, "live", "*.log")
			case sc.files == 1:
				in.files, in.glob = []string{data}, data
			default:
				in.files = splitLines(t, data, sc.lines, sc.files)
				in.glob = filepath.Join(filepath.Dir(in.files[0]), "*.log")
			}
			return in
		}
		params := peersParams{liveRate: sc.rate}
		t.Run(slug(sc.name), func(t *testing.T) {
			for run := 1; run <= fp.runs; run++ {
				for _, p := range contenders {
					busy := waitIdle(t)
					res, err := runPeer(t, b, p, input(t.TempDir()), int64(sc.lines), params)
					if err != nil {
						t.Errorf("%s / %s run %d: %v", sc.name, p.name, run, err)
						failed = append(failed, fmt.Sprintf("- %s / %s run %d: %s", sc.name, p.name, run, firstLine(err.Error())))
						continue
					}
					res.scenario, res.contender, res.run, res.r.busy = sc.name, p.name, run, busy
					t.Logf("%s", footprintLine(res))
					all = append(all, res)
				}
			}
			if fp.profile {
				text, err := profileFootprint(t, b, sc, input(t.TempDir()), params)
				if err != nil {
					t.Errorf("%s: profile: %v", sc.name, err)
					return
				}
				profiles = append(profiles, text)
			}
		})
	}
	if len(all) == 0 {
		t.Fatalf("no run succeeded: %s is left as it was", footprintResults)
	}
	md := footprintMarkdown(e, fp, lines, contenders, scenarios, all, profiles, failed)
	t.Log("\n" + md)
	writeResult(t, footprintResults, []byte(md))
}

func slug(name string) string {
	return strings.NewReplacer(" ", "_", ",", "", "/", "").Replace(name)
}

// profileFootprint runs logagent once as agentprof on in with a CPU
// profile and, for an idle scenario, a heap profile taken at the end of the
// idle window, and writes their tops beside the results. It returns a line
// for the results file.
func profileFootprint(t *testing.T, b bins, sc footprintScenario, in peerInput, params peersParams) (string, error) {
	t.Helper()
	base, err := filepath.Abs(resultPath("footprint-" + strings.ToLower(slug(sc.name))))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", err
	}
	cpuProf, heapProf := base+".cpu.prof", base+".heap.prof"
	os.Remove(heapProf + ".txt")
	if in.idle > 0 {
		in.idleEnd = func(p *proc) {
			_ = syscall.Kill(p.pid(), syscall.SIGUSR1)
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if _, err := os.Stat(heapProf + ".txt"); err == nil {
					return
				}
			}
		}
	}
	prof := peer{name: "logagent (profiled)", follows: true, term: true,
		command: func(r peerRun) (*exec.Cmd, error) {
			config := filepath.Join(r.dir, "agent.yaml")
			err := os.WriteFile(config, []byte(agentConfigFiles(r.brokers, r.dir, r.in.glob, r.topic, "json", "{}", compression)), 0o644)
			return exec.Command(b.agentprof, "-config", config, "-cpuprofile", cpuProf, "-heapprofile", heapProf), err
		}}
	res, err := runPeer(t, b, prof, in, int64(sc.lines), params)
	if err != nil {
		return "", err
	}
	var text strings.Builder
	fmt.Fprintf(&text, "%s: logagent as agentprof, with profiles\n%s\n", sc.name, footprintLine(res))
	tops := [][]string{{"-top", "-flat", "-nodecount=25", b.agentprof, cpuProf}, {"-top", "-cum", "-nodecount=25", b.agentprof, cpuProf}}
	if in.idle > 0 {
		tops = append(tops,
			[]string{"-top", "-sample_index=inuse_space", "-nodecount=25", b.agentprof, heapProf},
			[]string{"-top", "-sample_index=alloc_space", "-nodecount=25", b.agentprof, heapProf})
		if mem, err := os.ReadFile(heapProf + ".txt"); err == nil {
			fmt.Fprintf(&text, "\nAt the end of the idle window (runtime.MemStats after a GC):\n%s", mem)
		}
	}
	for _, args := range tops {
		out, err := exec.Command("go", append([]string{"tool", "pprof"}, args...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("pprof: %v\n%s", err, out)
		}
		fmt.Fprintf(&text, "\n$ go tool pprof %s %s %s\n%s", strings.Join(args[:len(args)-2], " "), filepath.Base(args[len(args)-2]), filepath.Base(args[len(args)-1]), out)
	}
	if err := os.WriteFile(base+"-top.txt", []byte(text.String()), 0o644); err != nil {
		return "", err
	}
	return fmt.Sprintf("- %s: `%s` (profiles `%s`, `%s`, not committed)", sc.name, filepath.Base(base)+"-top.txt", filepath.Base(cpuProf), filepath.Base(heapProf)), nil
}

func footprintLine(r peerResult) string {
	s := fmt.Sprintf("%-20s %-18s run %d: %9s lines/s  cpu %6.3fs  rss %6.1f MiB", r.scenario, r.contender, r.run,
		thousands(r.rate()), r.r.cpu.Seconds(), mib(r.r.maxRSS))
	if r.r.idleWindow > 0 {
		s += fmt.Sprintf("  ship cpu %6.3fs  ship rss %6.1f MiB  idle cpu %.3f%% (second half %.3f%%)  idle rss %6.1f MiB",
			r.r.shipCPU.Seconds(), mib(r.r.shipRSS), idlePercent(r.r), lateIdlePercent(r.r), mib(r.r.idleRSS))
	}
	if r.p99 > 0 {
		s += fmt.Sprintf("  p50 %s  p99 %s", r.p50, r.p99)
	}
	return s + fmt.Sprintf("  other cpu %6.3fs%s", r.r.otherCPU.Seconds(), notes(r.r))
}

// idlePercent is the contender's CPU over its idle window, in % of one core.
func idlePercent(r runResult) float64 {
	return 100 * r.idleCPU.Seconds() / r.idleWindow.Seconds()
}

// lateIdlePercent is the contender's CPU over the second half of its idle
// window, in % of one core.
func lateIdlePercent(r runResult) float64 {
	return 100 * r.lateIdleCPU.Seconds() / r.lateIdleWindow.Seconds()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func footprintMarkdown(e env, fp footprintParams, lines int, contenders []peer, scenarios []footprintScenario, all []peerResult, profiles, failed []string) string {
	var s strings.Builder
	s.WriteString(e.header("logagent's footprint against rsyslog", footprintCommand, footprintResults))
	fmt.Fprintf(&s, "- Contenders: ")
	for i, p := range contenders {
		if i > 0 {
			s.WriteString("; ")
		}
		fmt.Fprintf(&s, "%s (%s)", p.name, p.version)
	}
	fmt.Fprintf(&s, "\n- Inputs: the agent benchmark's nginx lines (~200 B): %s lines in 1 file (backfill), split into 100 files (%s lines), 1,000 files and 10,000 files; live: lines appended at the rate given for %d s, dealt in turn to the files, each stamped with its write time\n",
		thousands(float64(lines)), thousands(float64(lines/10)), fp.liveSecs)
	fmt.Fprintf(&s, "- Each contender runs with its defaults (logagent: JSON, zstd, scan_frequency 10s, close_inactive 5m, the default harvester limit) into a fresh kfake; the 10,000-file scenario runs under `ulimit -n %d`\n", footprintNofile)
	fmt.Fprintf(&s, "- Runs: %d per contender and scenario. CPU = user+sys from rusage (the whole run, idle window included); ship CPU and ship RSS = CPU (schedstat) and peak RSS (VmHWM) when the last line reached Kafka; idle: after %s, CPU over a %s window (schedstat, ns resolution) in %% of one core, and over its second half (past what an agent does once after a burst, such as returning memory), and VmRSS at its end, with every file still open; p50/p99: from a line's write to its arrival at a consumer of the topic (which adds up to %s of fetch wait)\n",
		fp.runs, idleSettle, fp.idle, liveFetchWait)
	s.WriteString("- Flags: runs where the machine was busy at the start, or where other processes used more than 10% of the CPUs, are flagged: their CPU-seconds and RSS still hold, their latencies and lines/s less so\n")
	for _, sc := range scenarios {
		var rows []peerResult
		for _, r := range all {
			if r.scenario == sc.name {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&s, "\n## %s\n\n", sc.name)
		switch {
		case sc.live:
			s.WriteString("| contender | run | CPU s | CPU s per 1M lines | peak RSS MiB | delay p50 | delay p99 | flags |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
		case sc.idle:
			s.WriteString("| contender | run | lines/s | ship CPU s | ship peak RSS MiB | idle CPU % of a core | its second half | idle RSS MiB | peak RSS MiB | flags |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		default:
			s.WriteString("| contender | run | lines/s | CPU s | CPU s per 1M lines | peak RSS MiB | flags |\n|---|---:|---:|---:|---:|---:|---|\n")
		}
		slices.SortStableFunc(rows, func(a, b peerResult) int { return strings.Compare(a.contender, b.contender) })
		for _, r := range rows {
			flags := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(notes(r.r)), "("), ")")
			perM := r.r.cpu.Seconds() / float64(r.lines) * 1e6
			switch {
			case sc.live:
				fmt.Fprintf(&s, "| %s | %d | %.2f | %.2f | %.1f | %s | %s | %s |\n", r.contender, r.run, r.r.cpu.Seconds(), perM, mib(r.r.maxRSS),
					r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), flags)
			case sc.idle:
				fmt.Fprintf(&s, "| %s | %d | %s | %.2f | %.1f | %.3f | %.3f | %.1f | %.1f | %s |\n", r.contender, r.run, thousands(r.rate()), r.r.shipCPU.Seconds(),
					mib(r.r.shipRSS), idlePercent(r.r), lateIdlePercent(r.r), mib(r.r.idleRSS), mib(r.r.maxRSS), flags)
			default:
				fmt.Fprintf(&s, "| %s | %d | %s | %.2f | %.2f | %.1f | %s |\n", r.contender, r.run, thousands(r.rate()), r.r.cpu.Seconds(), perM, mib(r.r.maxRSS), flags)
			}
		}
	}
	if len(failed) > 0 {
		s.WriteString("\n## Failed runs\n\n" + strings.Join(failed, "\n") + "\n")
	}
	if len(profiles) > 0 {
		s.WriteString("\n## Profiles\n\nOne logagent run per scenario as `bench/agentprof` (CPU profile over the whole run; heap profile and runtime memory figures at the end of the idle window), tops beside this file:\n\n")
		s.WriteString(strings.Join(profiles, "\n") + "\n")
	}
	return s.String()
}
