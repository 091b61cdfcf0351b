//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/internal/testenv"
)

const (
	sysmonResultsFile = "sysmon.md"
	sysmonCommand     = "go test -tags bench -run TestSysmonCost -v -timeout 30m ./bench/"
	telegrafVersion   = "1.37.2"
	telegrafInstall   = `GOBIN="${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/telegraf-1.37.2/bin" go install -tags "custom,inputs.cpu,inputs.mem,inputs.swap,inputs.system,inputs.disk,inputs.diskio,inputs.net,inputs.processes,outputs.influxdb_v2" github.com/influxdata/telegraf/cmd/telegraf@v1.37.2`

	costInterval = time.Second // sampling interval of the CPU runs
	costWarmup   = 5 * time.Second
	fullTimeout  = 5 * time.Minute // filling the 100k buffer
	fullHold     = 10 * time.Second
)

// costWindow is how long CPU is measured per run: 60 s, or $SYSMON_BENCH_WINDOW.
func costWindow(t *testing.T) time.Duration {
	if v := os.Getenv("SYSMON_BENCH_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SYSMON_BENCH_WINDOW: %v", err)
		}
		return d
	}
	return 60 * time.Second
}

// costRun is one contender sampling at costInterval for the window, writing to InfluxDB.
type costRun struct {
	name            string
	samples         int           // samples in the window (processes points in InfluxDB)
	cpu             time.Duration // user+sys of the contender in the window
	other           time.Duration // CPU other processes used meanwhile (machine − contender − InfluxDB − test)
	window          time.Duration
	rssSteady, peak int64 // bytes: VmRSS at the end of the window, VmHWM
	note            string
}

func (r costRun) perSample() time.Duration { return r.cpu / time.Duration(max(1, r.samples)) }

// pctCoreAt10s is the share of one core the contender would use at a 10 s interval,
// counting its whole CPU per sample (sampling, encoding, writing, runtime).
func (r costRun) pctCoreAt10s() float64 { return 100 * r.perSample().Seconds() / 10 }

// TestSysmonCost measures sysmon's CPU per sample and its RSS, side by side with Telegraf
// running the same inputs (cpu, mem, swap, system, disk, diskio, net, processes), both
// writing to one real InfluxDB 1.8 through its v2 API; then sysmon's RSS with its 100k-point
// buffer full (InfluxDB unreachable). It writes results/sysmon.md and asserts nothing about
// the figures.
func TestSysmonCost(t *testing.T) {
	window := costWindow(t)
	dir := t.TempDir()
	bin := os.Getenv("SYSMON_BENCH_BIN") // to measure another build of sysmon
	if bin == "" {
		bin = buildCommands(t, "./cmd/sysmon")["sysmon"]
	}
	telegraf, telegrafErr := telegrafBinary()
	if telegrafErr != nil {
		t.Logf("Telegraf is skipped: %v. Install it with:\n  %s", telegrafErr, telegrafInstall)
	}

	influx := testenv.StartInflux(t)
	if err := influx.CreateDatabase("telegraf"); err != nil {
		t.Fatal(err)
	}
	influxPID := childPID("influxd")

	var runs []costRun
	contenders := []string{"sysmon"}
	if telegrafErr == nil {
		contenders = append(contenders, "telegraf")
	}
	for _, name := range contenders {
		note := waitIdle(t)
		var r costRun
		var err error
		if name == "sysmon" {
			r, err = runSysmonCost(t, bin, dir, influx, influxPID, window)
		} else {
			r, err = runTelegrafCost(t, telegraf, dir, influx, influxPID, window)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if note != "" {
			r.note = "machine busy before the run: " + note
		}
		t.Logf("%s: %d samples, CPU %s (%s/sample, %.3f%% of a core at 10 s), RSS steady %.1f MiB, peak %.1f MiB, other CPU %s",
			r.name, r.samples, r.cpu, r.perSample().Round(time.Microsecond), r.pctCoreAt10s(),
			mib(r.rssSteady), mib(r.peak), r.other)
		runs = append(runs, r)
	}

	full, err := runSysmonFull(t, bin, dir)
	if err != nil {
		t.Fatalf("sysmon full buffer: %v", err)
	}
	t.Logf("sysmon, 100k buffer full: RSS %.1f MiB, peak %.1f MiB, %d points dropped (overflow) while held",
		mib(full.rss), mib(full.peak), full.dropped)

	md := sysmonMarkdown(t, window, runs, full, telegraf)
	fmt.Println(md)
	writeResult(t, sysmonResultsFile, []byte(md))
}

// telegrafBinary returns $LOGCOLLECT_TELEGRAF, or the Telegraf that telegrafInstall puts in
// the cache.
func telegrafBinary() (string, error) {
	bin := os.Getenv("LOGCOLLECT_TELEGRAF")
	if bin == "" {
		cache := os.Getenv("LOGCOLLECT_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("locate telegraf: %w", err)
			}
			cache = filepath.Join(home, ".cache", "logcollect")
		}
		bin = filepath.Join(cache, "telegraf-"+telegrafVersion, "bin", "telegraf")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("no telegraf binary: %w", err)
	}
	return bin, nil
}

// sysmonConfig is the config of the sysmon runs: its defaults (cpu-total only, Telegraf's
// ignore_fs, up non-loopback interfaces), as the Telegraf config below.
func sysmonConfig(interval time.Duration, url, host, metricsAddr, extra string) string {
	return fmt.Sprintf(`interval: %s
host: %s
influx:
  url: %s
  bucket: telegraf
  max_retry_delay: 1s
metrics:
  listen: %s
log:
  level: error
%s`, interval, host, url, metricsAddr, extra)
}

// telegrafConfig runs the same inputs with Telegraf's defaults, which sysmon's match.
func telegrafConfig(interval time.Duration, url, host string) string {
	return fmt.Sprintf(`[agent]
  interval = "%[1]s"
  round_interval = true
  flush_interval = "%[1]s"
  flush_jitter = "0s"
  collection_jitter = "0s"
  hostname = "%[3]s"
  omit_hostname = false
  quiet = true

[[outputs.influxdb_v2]]
  urls = ["%[2]s"]
  token = ""
  organization = ""
  bucket = "telegraf"

[[inputs.cpu]]
  percpu = false
  totalcpu = true
[[inputs.mem]]
[[inputs.swap]]
[[inputs.system]]
[[inputs.disk]]
  ignore_fs = ["tmpfs", "devtmpfs", "devfs", "iso9660", "overlay", "aufs", "squashfs"]
[[inputs.diskio]]
[[inputs.net]]
  ignore_protocol_stats = true
[[inputs.processes]]
`, interval, url, host)
}

// startCostProc starts a contender (startProc, sampling its memory every
// second) with its output in dir/name.log, and kills it at the end of the
// test if it still runs.
func startCostProc(t *testing.T, dir, name, bin string, args ...string) (*proc, error) {
	t.Helper()
	p, err := startProc(name, exec.Command(bin, args...), filepath.Join(dir, name+".log"), costInterval)
	if err != nil {
		return nil, err
	}
	t.Cleanup(p.kill)
	return p, nil
}

// samplesIn counts host's processes points (one per sample) with times in [from, to).
func samplesIn(i *testenv.Influx, host string, from, to time.Time) (int, error) {
	series, err := i.Query("telegraf", fmt.Sprintf(`SELECT count("total") FROM processes WHERE host='%s' AND time >= %d AND time < %d`,
		host, from.UnixNano(), to.UnixNano()))
	if err != nil {
		return 0, err
	}
	if len(series) == 0 || len(series[0].Values) == 0 {
		return 0, nil
	}
	return strconv.Atoi(fmt.Sprint(series[0].Rows()[0]["count"]))
}

// measureCost measures pid over the window (after the warm-up) and returns the run with
// the samples that host wrote to InfluxDB in it (waiting one flush for the last ones).
func measureCost(t *testing.T, name, host string, p *proc, influxPID int, influx *testenv.Influx, window time.Duration) (costRun, error) {
	time.Sleep(costWarmup)
	from := time.Now().Truncate(costInterval).Add(costInterval)
	time.Sleep(time.Until(from) - costInterval/2) // start measuring mid-interval
	c0, m0, i0, s0 := p.cpuNow(), sampleCPU(influxPID), procCPU(influxPID), sampleCPU(0).self
	time.Sleep(window)
	c1, m1, i1, s1 := p.cpuNow(), sampleCPU(influxPID), procCPU(influxPID), sampleCPU(0).self
	rss, _ := p.memNow()
	hwm := p.maxRSS()
	to := from.Add(window)
	time.Sleep(3 * costInterval) // the last samples are flushed
	n, err := samplesIn(influx, host, from, to)
	if err != nil {
		return costRun{}, err
	}
	if n == 0 {
		return costRun{}, errors.New("no samples in InfluxDB")
	}
	cpu := c1 - c0
	other := (m1.machine - m0.machine) - cpu - (i1 - i0) - (s1 - s0)
	return costRun{name: name, samples: n, cpu: cpu, other: max(0, other), window: window, rssSteady: rss, peak: hwm}, nil
}

func runSysmonCost(t *testing.T, bin, dir string, influx *testenv.Influx, influxPID int, window time.Duration) (costRun, error) {
	conf := filepath.Join(dir, "sysmon-cost.yaml")
	if err := os.WriteFile(conf, []byte(sysmonConfig(costInterval, influx.URL(), "sysmon-bench", testenv.FreeAddr(t), "")), 0o644); err != nil {
		return costRun{}, err
	}
	p, err := startCostProc(t, dir, "sysmon-cost", bin, "-config", conf)
	if err != nil {
		return costRun{}, err
	}
	r, err := measureCost(t, "sysmon", "sysmon-bench", p, influxPID, influx, window)
	if serr := p.stop(true, 30*time.Second); err == nil {
		err = serr
	}
	return r, err
}

func runTelegrafCost(t *testing.T, bin, dir string, influx *testenv.Influx, influxPID int, window time.Duration) (costRun, error) {
	conf := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(conf, []byte(telegrafConfig(costInterval, influx.URL(), "telegraf-bench")), 0o644); err != nil {
		return costRun{}, err
	}
	p, err := startCostProc(t, dir, "telegraf", bin, "--config", conf)
	if err != nil {
		return costRun{}, err
	}
	r, err := measureCost(t, "telegraf "+telegrafVersion, "telegraf-bench", p, influxPID, influx, window)
	if serr := p.stop(true, 30*time.Second); err == nil {
		err = serr
	}
	return r, err
}

// fullRun is sysmon with its buffer full.
type fullRun struct {
	rss, peak     int64
	dropped       int64
	fill          time.Duration
	pointsPerSmpl float64
}

// runSysmonFull runs sysmon against an unreachable InfluxDB, sampling as fast as it can
// (interval 1ms, every file system, device and interface, per-CPU) until its default
// 100k-point buffer is full and overflowing, holds it there for fullHold and reads its RSS.
func runSysmonFull(t *testing.T, bin, dir string) (fullRun, error) {
	dead := testenv.FreeAddr(t) // nothing listens there: connection refused
	metricsAddr := testenv.FreeAddr(t)
	extra := `cpu:
  per_cpu: true
disk:
  ignore_fs: []
diskio:
  ignore_devices: []
net:
  interfaces: ["*"]
`
	conf := filepath.Join(dir, "sysmon-full.yaml")
	if err := os.WriteFile(conf, []byte(sysmonConfig(time.Millisecond, "http://"+dead, "sysmon-full", metricsAddr, extra)), 0o644); err != nil {
		return fullRun{}, err
	}
	p, err := startCostProc(t, dir, "sysmon-full", bin, "-config", conf)
	if err != nil {
		return fullRun{}, err
	}
	defer p.kill()
	start := time.Now()
	var r fullRun
	for {
		m, err := scrape(metricsAddr)
		if err == nil && m["sysmon_buffered_points"] >= 100_000 && m[`sysmon_points_dropped_total{reason="overflow"}`] > 0 {
			r.fill = time.Since(start)
			r.pointsPerSmpl = (m["sysmon_buffered_points"] + m[`sysmon_points_dropped_total{reason="overflow"}`]) / max(1, m["sysmon_samples_total"])
			break
		}
		if time.Since(start) > fullTimeout {
			return r, fmt.Errorf("buffer not full after %s: %v %v", fullTimeout, m, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(fullHold)
	m, err := scrape(metricsAddr)
	if err != nil {
		return r, err
	}
	if m["sysmon_buffered_points"] != 100_000 {
		return r, fmt.Errorf("buffered %v points, want 100000", m["sysmon_buffered_points"])
	}
	r.dropped = int64(m[`sysmon_points_dropped_total{reason="overflow"}`])
	r.rss, _ = p.memNow()
	r.peak = p.maxRSS()
	return r, nil
}

// scrape reads the unlabelled samples (and the dropped counter's) of a /metrics page.
func scrape(addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			m[k] = f
		}
	}
	return m, sc.Err()
}

func sysmonMarkdown(t *testing.T, window time.Duration, runs []costRun, full fullRun, telegraf string) string {
	var s bytes.Buffer
	s.WriteString(environment(t, bins{}).header("sysmon cost", sysmonCommand, "bench/sysmon_bench_test.go"))
	fmt.Fprintf(&s, "- InfluxDB 1.8.10 (internal/testenv), both writing through its v2 API to database `telegraf`\n")
	if telegraf == "" {
		fmt.Fprintf(&s, "- Telegraf: not installed, skipped (install: `%s`)\n", telegrafInstall)
	} else {
		fmt.Fprintf(&s, "- Telegraf %s built with only the inputs cpu, mem, swap, system, disk, diskio, net, processes and outputs.influxdb_v2\n", telegrafVersion)
	}
	fmt.Fprintf(&s, "- Runs: each contender alone, sampling every %s, the same inputs with their defaults (cpu-total only; Telegraf's ignore_fs; up non-loopback interfaces); CPU = the process's user+sys from /proc/PID/stat over a %s window after a %s warm-up, divided by the samples it wrote in the window (counted in InfluxDB); so it includes encoding, writing and the Go runtime, not only the reads\n", costInterval, window, costWarmup)
	fmt.Fprintf(&s, "- %% of one core at 10 s = CPU per sample / 10 s. Telegraf also flushes every %s here.\n", costInterval)
	fmt.Fprintf(&s, "- Other CPU: what the rest of the machine used during the window (all CPUs, minus the contender, InfluxDB and the test). The machine is shared: a large figure means the run was measured under contention.\n\n")
	fmt.Fprintf(&s, "| contender | samples | CPU s | CPU ms/sample | %% of one core at 10 s | RSS steady MiB | peak RSS MiB | other CPU s | notes |\n")
	fmt.Fprintf(&s, "|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range runs {
		note := r.note
		if r.other.Seconds() > 0.10*float64(runtime.NumCPU())*r.window.Seconds() {
			note = strings.TrimPrefix(note+"; measured under contention", "; ")
		}
		fmt.Fprintf(&s, "| %s | %d | %.2f | %.2f | %.3f | %.1f | %.1f | %.1f | %s |\n", r.name, r.samples, r.cpu.Seconds(),
			float64(r.perSample().Microseconds())/1000, r.pctCoreAt10s(), mib(r.rssSteady), mib(r.peak), r.other.Seconds(), note)
	}
	fmt.Fprintf(&s, "\nTarget (issue 5): ≤ 0.5%% of one core at a 10 s interval, RSS ≤ 30 MiB.\n\n")
	fmt.Fprintf(&s, "## sysmon with its buffer full\n\n")
	fmt.Fprintf(&s, "InfluxDB unreachable (connection refused); sysmon sampling every 1ms with every file system, block device, interface and CPU (%.1f points per sample) until its default 100,000-point buffer was full (%s), then %s more while the oldest points were dropped (%d dropped). Buffered points are kept S2-compressed in 64 KiB chunks.\n\n",
		full.pointsPerSmpl, full.fill.Round(time.Second), fullHold, full.dropped)
	fmt.Fprintf(&s, "| state | RSS MiB | peak RSS MiB |\n|---|---:|---:|\n")
	fmt.Fprintf(&s, "| 100k points buffered | %.1f | %.1f |\n", mib(full.rss), mib(full.peak))
	return s.String()
}
