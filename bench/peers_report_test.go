//go:build bench

package bench

import (
	"fmt"
	"html"
	"os"
	"slices"
	"strings"
	"time"
)

// peerSummary is one contender in one scenario, over its runs.
type peerSummary struct {
	scenario, contender    string
	ceiling                bool
	missing                string // why there are no runs
	n, flagged             int    // runs; runs on a busy or disturbed machine
	rate, rateMin, rateMax float64
	perCPU                 float64 // lines per CPU second, median
	cpu, rss               float64 // seconds, MiB (medians)
	p50, p99               time.Duration
	p99Min, p99Max         time.Duration
}

func summarizePeers(scenario string, peers []peer, all []peerResult) []peerSummary {
	var out []peerSummary
	for _, p := range peers {
		s := peerSummary{scenario: scenario, contender: p.name, ceiling: p.ceiling, missing: p.missing}
		if s.missing == "" && scenario == "live" && !p.follows {
			s.missing = "n/a: reads its input to the end and exits, does not follow a file"
		}
		var rates, perCPU, cpus, rsss []float64
		var p50s, p99s []time.Duration
		for _, r := range all {
			if r.scenario != scenario || r.contender != p.name {
				continue
			}
			rates = append(rates, r.rate())
			perCPU = append(perCPU, r.perCPU())
			cpus = append(cpus, r.r.cpu.Seconds())
			rsss = append(rsss, mib(r.r.maxRSS))
			p50s, p99s = append(p50s, r.p50), append(p99s, r.p99)
			if r.r.busy != "" || r.r.disturbed() {
				s.flagged++
			}
		}
		if s.n = len(rates); s.n > 0 {
			s.rate, s.rateMin, s.rateMax = median(rates), slices.Min(rates), slices.Max(rates)
			s.perCPU, s.cpu, s.rss = median(perCPU), median(cpus), median(rsss)
			slices.Sort(p50s)
			slices.Sort(p99s)
			s.p50, s.p99 = p50s[len(p50s)/2], p99s[len(p99s)/2]
			s.p99Min, s.p99Max = p99s[0], p99s[len(p99s)-1]
		} else if s.missing == "" {
			s.missing = "every run failed (see the test log)"
		}
		out = append(out, s)
	}
	return out
}

// ratio is a/b as "1.23×", or "–" when either is unknown.
func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func peersMarkdown(e env, params peersParams, data string, peers []peer, in peersInstall, sums []peerSummary, all []peerResult) string {
	var s strings.Builder
	size := int64(0)
	if fi, err := os.Stat(data); err == nil {
		size = fi.Size()
	}
	broker := "kfake " + e.kfake + ", a fresh one for each run, in its own process, in memory"
	if *peersBroker != "" {
		broker = "the Kafka at " + *peersBroker + " (-broker), a fresh topic for each run"
	}
	s.WriteString(e.header("logagent and its peers", peersCommand, "bench/peers_bench_test.go"))
	fmt.Fprintf(&s, "- Broker: %s; topics of one partition\n", broker)
	fmt.Fprintf(&s, "- Input: %s nginx combined lines, %.1f MB (%.0f bytes/line with the newline), read from the page cache: one file (backfill), or the same lines in %d files of %s (10 files); live: %s lines/s appended to one file for %d s (%s lines), each line ending in its write time\n",
		thousands(float64(params.lines)), float64(size)/1e6, float64(size)/float64(params.lines), peerParts,
		thousands(float64(params.lines/peerParts)), thousands(float64(params.liveRate)), params.liveSecs, thousands(float64(params.liveRate*params.liveSecs)))
	fmt.Fprintf(&s, "- Producer settings, wherever the contender has them: acks=all, idempotent, %s, linger %s\n", compression, linger)
	fmt.Fprintf(&s, "- Runs: %d per contender and scenario, contenders interleaved; before each, the test waits up to %s for the machine to be idle (1-min load < %.1f or CPUs < %.0f%% busy). Wall time = process start until the topic's high watermark reaches the line count (polled every %s); CPU = user+sys from the contender's rusage (with the children it waited for); peak RSS = the sum of the VmHWM of the contender and its descendants, sampled at each poll; other CPU = what other processes used meanwhile; a run is flagged when the machine was busy at its start or other processes used more than %.0f%% of the CPUs\n",
		params.runs, idleWait, idleLoad, idleBusy*100, pollInterval, otherMax*100)
	fmt.Fprintf(&s, "- Live delay: from the write time in the line to the record's arrival at a consumer of the topic (fetch max wait %s), p50 and p99 over all lines of a run; the writer starts %s after the contender\n\n", liveFetchWait, liveWarmup)

	fmt.Fprintf(&s, "## Contenders\n\n| contender | version | install |\n|---|---|---|\n")
	for _, p := range peers {
		st := "built by the test"
		if key := installKey(p.name); key != "" {
			st = "bench/peers/install.sh not run (LOGCOLLECT_PEERS_INSTALL=0)"
			if v, ok := in.status[key]; ok {
				st = "bench/peers/install.sh: " + v
			}
		}
		version := p.version
		if p.missing != "" {
			version = "**" + strings.ReplaceAll(p.missing, "\n", " ") + "**"
		}
		fmt.Fprintf(&s, "| %s | %s | %s |\n", p.name, version, st)
	}
	fmt.Fprintf(&s, "\n![lines/s and peak RSS per contender](peers.svg)\n")

	s.WriteString(peersTables(sums))

	flagged := flaggedRuns(all)
	fmt.Fprintf(&s, "\n## Runs\n\n%d of %d runs started on a busy machine or had other processes use more than %.0f%% of the CPUs: their figures are lower than the machine can do, and the ratios between contenders are only as good as the disturbance was even.\n\n", flagged, len(all), otherMax*100)
	fmt.Fprintf(&s, "| scenario | contender | run | wall s | lines/s | CPU s | peak RSS MiB | p50 | p99 | broker CPU s | other CPU s | notes |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range all {
		fmt.Fprintf(&s, "| %s | %s | %d | %.3f | %s | %.2f | %.1f | %s | %s | %.2f | %.2f | %s |\n", r.scenario, r.contender, r.run,
			r.r.wall.Seconds(), thousands(r.rate()), r.r.cpu.Seconds(), mib(r.r.maxRSS), ms(r.p50), ms(r.p99),
			r.r.brokerCPU.Seconds(), r.r.otherCPU.Seconds(), strings.Trim(notes(r.r), " ()"))
	}
	return s.String()
}

// peersTables is a section per scenario: the contenders' figures with the
// ratios to the ceiling, and logagent against each peer.
func peersTables(sums []peerSummary) string {
	s := &strings.Builder{}
	for _, sc := range scenarioNames(sums) {
		rows := slices.DeleteFunc(slices.Clone(sums), func(p peerSummary) bool { return p.scenario != sc })
		var ceil peerSummary
		for _, r := range rows {
			if r.ceiling {
				ceil = r
			}
		}
		live := sc == "live"
		fmt.Fprintf(s, "\n## %s\n\n", sc)
		if live {
			fmt.Fprintf(s, "| contender | delay p50 | delay p99 median (min–max) | lines per CPU s | CPU s | peak RSS MiB | flagged runs |\n|---|---:|---:|---:|---:|---:|---:|\n")
		} else {
			fmt.Fprintf(s, "| contender | lines/s median (min–max) | vs ceiling | lines per CPU s | vs ceiling | CPU s | peak RSS MiB | flagged runs |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		}
		for _, r := range rows {
			switch {
			case r.missing != "":
				fmt.Fprintf(s, "| %s | %s |\n", r.contender, strings.SplitN(r.missing, "\n", 2)[0])
			case live:
				fmt.Fprintf(s, "| %s | %s | %s (%s–%s) | %s | %.2f | %.1f | %d of %d |\n", r.contender, ms(r.p50),
					ms(r.p99), ms(r.p99Min), ms(r.p99Max), thousands(r.perCPU), r.cpu, r.rss, r.flagged, r.n)
			default:
				fmt.Fprintf(s, "| %s | %s (%s–%s) | %s | %s | %s | %.2f | %.1f | %d of %d |\n", r.contender,
					thousands(r.rate), thousands(r.rateMin), thousands(r.rateMax), ratio(r.rate, ceil.rate),
					thousands(r.perCPU), ratio(r.perCPU, ceil.perCPU), r.cpu, r.rss, r.flagged, r.n)
			}
		}
		first := "lines/s: above 1, logagent ships faster"
		if live {
			first = "the peer's p99 delay over logagent's: above 1, logagent is fresher"
		}
		fmt.Fprintf(s, "\nlogagent against each peer, as ratios (%s; lines per CPU second: above 1, logagent costs less CPU; peak RSS: above 1, logagent uses more memory):\n\n| | %s |\n|---|%s\n", first,
			strings.Join(contenderNames(rows), " | "), strings.Repeat("---:|", len(rows)))
		for _, a := range rows {
			if !strings.HasPrefix(a.contender, "logagent") || a.n == 0 {
				continue
			}
			fmt.Fprintf(s, "| %s |", a.contender)
			for _, b := range rows {
				switch {
				case b.contender == a.contender:
					fmt.Fprintf(s, " |")
				case live:
					fmt.Fprintf(s, " %s; %s; %s |", ratio(float64(b.p99), float64(a.p99)), ratio(a.perCPU, b.perCPU), ratio(a.rss, b.rss))
				default:
					fmt.Fprintf(s, " %s; %s; %s |", ratio(a.rate, b.rate), ratio(a.perCPU, b.perCPU), ratio(a.rss, b.rss))
				}
			}
			fmt.Fprintln(s)
		}
	}

	return s.String()
}

func flaggedRuns(all []peerResult) int {
	n := 0
	for _, r := range all {
		if r.r.busy != "" || r.r.disturbed() {
			n++
		}
	}
	return n
}

// Markers of the part of BENCHMARKS.md that TestPeers writes.
const (
	benchmarksFile = "../BENCHMARKS.md"
	peersBeginMark = "<!-- TestPeers begin: written by the test -->"
	peersEndMark   = "<!-- TestPeers end -->"
)

// updateBenchmarks replaces the part of BENCHMARKS.md between the TestPeers
// markers with the run's tables.
func updateBenchmarks(e env, params peersParams, sums []peerSummary, all []peerResult) error {
	b, err := os.ReadFile(benchmarksFile)
	if err != nil {
		return err
	}
	before, rest, ok1 := strings.Cut(string(b), peersBeginMark)
	_, after, ok2 := strings.Cut(rest, peersEndMark)
	if !ok1 || !ok2 {
		return fmt.Errorf("%s: no %q ... %q", benchmarksFile, peersBeginMark, peersEndMark)
	}
	broker := "kfake"
	if *peersBroker != "" {
		broker = "topic on " + *peersBroker
	}
	var s strings.Builder
	fmt.Fprintf(&s, "%s\n\nMeasured %s: %s lines (backfill, 10 files), live %s lines/s for %d s, %d runs each, a fresh %s per run. %d of %d runs were flagged (machine busy at the start, or other processes using more than %.0f%% of the CPUs).\n",
		peersBeginMark, e.date, thousands(float64(params.lines)), thousands(float64(params.liveRate)), params.liveSecs, params.runs,
		broker, flaggedRuns(all), len(all), otherMax*100)
	s.WriteString(strings.ReplaceAll(peersTables(sums), "\n## ", "\n### "))
	s.WriteString("\n" + peersEndMark)
	return os.WriteFile(benchmarksFile, []byte(before+s.String()+after), 0o644)
}

// installKey is a contender's name in install.sh's report; "" for those the
// test builds.
func installKey(contender string) string {
	switch contender {
	case "kcat", "rsyslog", "telegraf", "otelcol":
		return contender
	}
	return ""
}

func scenarioNames(sums []peerSummary) []string {
	var names []string
	for _, s := range sums {
		if !slices.Contains(names, s.scenario) {
			names = append(names, s.scenario)
		}
	}
	return names
}

func contenderNames(rows []peerSummary) []string {
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.contender
	}
	return names
}

// ms formats d in milliseconds, "–" for 0 (not measured).
func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f ms", d.Seconds()*1000)
}

// peersSVG draws, for each scenario, a bar per contender of lines/s (the
// backfills) or p99 delay (live), and of peak RSS.
func peersSVG(sums []peerSummary) string {
	const (
		labelW = 110
		barW   = 300
		rowH   = 18
		panelW = labelW + barW + 70
		titleH = 26
	)
	type panel struct {
		title string
		value func(peerSummary) float64
		text  func(float64) string
	}
	var body strings.Builder
	y := 10
	for _, sc := range scenarioNames(sums) {
		rows := slices.DeleteFunc(slices.Clone(sums), func(p peerSummary) bool { return p.scenario != sc || p.n == 0 })
		if len(rows) == 0 {
			continue
		}
		first := panel{sc + ": lines/s (median)", func(p peerSummary) float64 { return p.rate }, func(v float64) string { return thousands(v) }}
		if sc == "live" {
			first = panel{sc + ": p99 delay, ms (median)", func(p peerSummary) float64 { return p.p99.Seconds() * 1000 },
				func(v float64) string { return fmt.Sprintf("%.0f", v) }}
		}
		for i, pn := range []panel{first, {sc + ": peak RSS, MiB (median)", func(p peerSummary) float64 { return p.rss },
			func(v float64) string { return fmt.Sprintf("%.1f", v) }}} {
			x := i * panelW
			fmt.Fprintf(&body, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x+5, y+16, html.EscapeString(pn.title))
			top := 0.0
			for _, r := range rows {
				top = max(top, pn.value(r))
			}
			for j, r := range rows {
				v, ry := pn.value(r), y+titleH+j*rowH
				w := 0
				if top > 0 {
					w = int(v / top * barW)
				}
				color := "#8c8c8c"
				switch {
				case strings.HasPrefix(r.contender, "logagent"):
					color = "#1f77b4"
				case r.ceiling:
					color = "#2ca02c"
				}
				fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", x+labelW-5, ry+13, html.EscapeString(r.contender))
				fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", x+labelW, ry+2, w, rowH-4, color)
				fmt.Fprintf(&body, `<text x="%d" y="%d">%s</text>`+"\n", x+labelW+w+4, ry+13, pn.text(v))
			}
		}
		y += titleH + len(rows)*rowH + 14
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
%s</svg>
`, 2*panelW, y, body.String())
}
