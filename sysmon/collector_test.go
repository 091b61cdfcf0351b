package sysmon

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/load"
	"github.com/shirou/gopsutil/v3/mem"
	"github.com/shirou/gopsutil/v3/net"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fakeStats is a HostStats with fixed values; sample n (from 0) advances the counters.
type fakeStats struct {
	n    int
	errs map[string]error // by method name
}

var _ HostStats = (*fakeStats)(nil)

func (f *fakeStats) err(method string) error { return f.errs[method] }

func (f *fakeStats) CPUTimes(perCPU bool) ([]cpu.TimesStat, error) {
	k := float64(f.n)
	cpu0 := cpu.TimesStat{CPU: "cpu0", User: 100 + 6*k, System: 50 + 2*k, Idle: 1000 + 10*k, Nice: 5 + 1*k,
		Iowait: 3 + 0.5*k, Irq: 1, Softirq: 2 + 0.5*k, Steal: 0, Guest: 10 + 2*k, GuestNice: 1}
	cpu1 := cpu.TimesStat{CPU: "cpu1", User: 200 + 1*k, System: 20 + 1*k, Idle: 900 + 18*k}
	if perCPU {
		return []cpu.TimesStat{cpu0, cpu1}, f.err("CPUTimes")
	}
	total := cpu.TimesStat{CPU: "cpu-total"}
	for _, c := range []cpu.TimesStat{cpu0, cpu1} {
		total.User += c.User
		total.System += c.System
		total.Idle += c.Idle
		total.Nice += c.Nice
		total.Iowait += c.Iowait
		total.Irq += c.Irq
		total.Softirq += c.Softirq
		total.Guest += c.Guest
		total.GuestNice += c.GuestNice
	}
	return []cpu.TimesStat{total}, f.err("CPUTimes")
}

func (f *fakeStats) CPUCounts(logical bool) (int, error) {
	if logical {
		return 2, nil
	}
	return 1, nil
}

func (f *fakeStats) VirtualMemory() (*mem.VirtualMemoryStat, error) {
	return &mem.VirtualMemoryStat{
		Total: 8 << 30, Available: 6 << 30, Used: 2 << 30, Free: 1 << 30, Active: 3 << 30, Inactive: 1 << 29,
		Buffers: 1 << 27, Cached: 4 << 30, CommitLimit: 4 << 30, CommittedAS: 3 << 30, Dirty: 4096,
		HugePageSize: 2 << 20, Mapped: 1 << 26, PageTables: 1 << 22, Shared: 1 << 25, Slab: 1 << 28,
		Sreclaimable: 1 << 27, Sunreclaim: 1 << 27, VmallocTotal: 1<<63 + 1, VmallocUsed: 1 << 20,
		WriteBack: 0, WriteBackTmp: 0,
	}, f.err("VirtualMemory")
}

func (f *fakeStats) SwapMemory() (*mem.SwapMemoryStat, error) {
	return &mem.SwapMemoryStat{Total: 1 << 30, Used: 1 << 28, Free: 3 << 28, UsedPercent: 25,
		Sin: 4096 * uint64(f.n), Sout: 8192}, f.err("SwapMemory")
}

func (f *fakeStats) LoadAvg() (*load.AvgStat, error) {
	return &load.AvgStat{Load1: 0.5, Load5: 0.25, Load15: 1.125}, f.err("LoadAvg")
}

func (f *fakeStats) Users() ([]host.UserStat, error) {
	if err := f.err("Users"); err != nil {
		return nil, err
	}
	return []host.UserStat{{User: "alice"}, {User: "bob"}, {User: "alice"}}, nil
}

func (f *fakeStats) BootTime() (uint64, error) { return 1_700_000_000 - 3*86400 - 4*3600 - 5*60, nil }

func (f *fakeStats) Partitions() ([]disk.PartitionStat, error) {
	return []disk.PartitionStat{
		{Device: "/dev/sda1", Mountpoint: "/", Fstype: "ext4", Opts: []string{"rw", "relatime"}},
		{Device: "/dev/sdb1", Mountpoint: "/data dir", Fstype: "xfs", Opts: []string{"ro"}},
		{Device: "tmpfs", Mountpoint: "/run", Fstype: "tmpfs", Opts: []string{"rw"}},
		{Device: "proc", Mountpoint: "/proc", Fstype: "proc", Opts: []string{"rw"}},
		{Device: "server:/export", Mountpoint: "/mnt/nfs", Fstype: "nfs4", Opts: []string{"rw"}},
		{Device: "/dev/sdc1", Mountpoint: "/mnt/empty", Fstype: "vfat", Opts: []string{"rw"}},
		{Device: "/dev/sda1", Mountpoint: "/data dir", Fstype: "ext4", Opts: []string{"rw"}}, // mounted over
	}, f.err("Partitions")
}

func (f *fakeStats) DiskUsage(path string) (*disk.UsageStat, error) {
	switch path {
	case "/":
		return &disk.UsageStat{Path: "/", Total: 100 << 30, Free: 60 << 30, Used: 35 << 30,
			InodesTotal: 1000, InodesFree: 900, InodesUsed: 100}, nil
	case "/data dir":
		return &disk.UsageStat{Path: path, Total: 1 << 40, Free: 1 << 39, Used: 1 << 39}, nil
	case "/mnt/empty":
		return &disk.UsageStat{Path: path}, nil // size 0: skipped
	default:
		return nil, errors.New("stale file handle") // skipped
	}
}

func (f *fakeStats) DiskIO() (map[string]disk.IOCountersStat, error) {
	n := uint64(f.n)
	return map[string]disk.IOCountersStat{
		"sda":   {Name: "sda", ReadCount: 1000 + 10*n, WriteCount: 2000 + 30*n, ReadBytes: 1 << 30, WriteBytes: 2 << 30, ReadTime: 500 + 20*n, WriteTime: 900 + 60*n, IoTime: 1200 + 500*n, WeightedIO: 1500, IopsInProgress: 1, MergedReadCount: 7, MergedWriteCount: 9},
		"loop0": {Name: "loop0", ReadCount: 5},
		"nvme0": {Name: "nvme0", ReadCount: 10, IoTime: 10},
	}, f.err("DiskIO")
}

func (f *fakeStats) NetIO() ([]net.IOCountersStat, error) {
	return []net.IOCountersStat{
		{Name: "lo", BytesSent: 1, BytesRecv: 1},
		{Name: "eth0", BytesSent: 1000, BytesRecv: 2000, PacketsSent: 10, PacketsRecv: 20, Errin: 1, Errout: 2, Dropin: 3, Dropout: 4},
		{Name: "eth1", BytesSent: 5},
		{Name: "docker0", BytesSent: 7},
	}, f.err("NetIO")
}

func (f *fakeStats) NetInterfaces() ([]NetInterface, error) {
	return []NetInterface{
		{Name: "lo", Up: true, Loopback: true},
		{Name: "eth0", Up: true},
		{Name: "eth1", Up: false},
		{Name: "docker0", Up: true},
	}, nil
}

func (f *fakeStats) NetSpeed(name string) int64 {
	if name == "eth0" {
		return 1000
	}
	return -1
}

func (f *fakeStats) Processes() (ProcessCounts, error) {
	return ProcessCounts{Running: 2, Sleeping: 100, Blocked: 1, Zombies: 1, Stopped: 1, Idle: 40, Total: 145, Threads: 300}, f.err("Processes")
}

func testConfig(t *testing.T, edit func(*Config)) Config {
	t.Helper()
	cfg := Config{Host: "web-1", Influx: InfluxConfig{URL: "http://127.0.0.1:8086", Bucket: "telegraf"}}
	if edit != nil {
		edit(&cfg)
	}
	require.NoError(t, cfg.Validate())
	return cfg
}

// sampleLines runs two samples 10 s apart and returns the second one in line protocol.
func sampleLines(t *testing.T, cfg Config, stats *fakeStats) string {
	t.Helper()
	c := NewCollector(cfg, stats)
	t0 := time.Unix(1_700_000_000, 0)
	first, err := c.Sample(t0.Add(-10 * time.Second))
	require.NoError(t, err)
	for _, p := range first {
		require.NotEqual(t, "cpu", p.Measurement, "cpu usage needs two samples")
	}
	stats.n++
	points, err := c.Sample(t0)
	require.NoError(t, err)
	var b strings.Builder
	for _, p := range points {
		require.Equal(t, t0, p.Time)
		b.WriteString(p.Line())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestCollectorGolden(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		edit   func(*Config)
	}{
		{name: "defaults", golden: "defaults.txt"},
		{name: "per cpu, active, tags, filters", golden: "options.txt", edit: func(c *Config) {
			c.CPU = CPUConfig{PerCPU: true, ReportActive: true}
			c.Tags = map[string]string{"dc": "eu 1", "role": "web"}
			c.Disk = DiskConfig{MountPoints: []string{"/", "/mnt/*"}, IgnoreFS: []string{}}
			c.DiskIO = DiskIOConfig{Devices: []string{"sd*", "loop*"}, IgnoreDevices: []string{}}
			c.Net = NetConfig{Interfaces: []string{"eth*", "lo"}, IgnoreInterfaces: []string{"eth0"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sampleLines(t, testConfig(t, tt.edit), &fakeStats{})
			path := filepath.Join("testdata", "golden", tt.golden)
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./sysmon -run Golden -update")
			require.Equal(t, string(want), got)
		})
	}
}

// TestCollectorFields checks values the golden file only shows: Telegraf's formulas.
func TestCollectorFields(t *testing.T) {
	c := NewCollector(testConfig(t, func(c *Config) { c.CPU.PerCPU = true }), &fakeStats{})
	t0 := time.Unix(1_700_000_000, 0)
	_, err := c.Sample(t0.Add(-10 * time.Second))
	require.NoError(t, err)
	c.stats.(*fakeStats).n++
	points, err := c.Sample(t0)
	require.NoError(t, err)

	find := func(measurement string, tags ...string) Point {
		t.Helper()
	next:
		for _, p := range points {
			if p.Measurement != measurement {
				continue
			}
			for i := 0; i < len(tags); i += 2 {
				if p.Tag(tags[i]) != tags[i+1] {
					continue next
				}
			}
			return p
		}
		t.Fatalf("no %s point with tags %v", measurement, tags)
		return Point{}
	}

	tests := []struct {
		name  string
		point Point
		field string
		want  any
	}{
		// cpu0 advanced user 6 (2 of them guest), system 2, idle 10, nice 1, iowait 0.5,
		// softirq 0.5, guest 2: total 20 (guest is inside user).
		{"usage_user excludes guest", find("cpu", "cpu", "cpu0"), "usage_user", 20.0},
		{"usage_system", find("cpu", "cpu", "cpu0"), "usage_system", 10.0},
		{"usage_idle", find("cpu", "cpu", "cpu0"), "usage_idle", 50.0},
		{"usage_nice", find("cpu", "cpu", "cpu0"), "usage_nice", 5.0},
		{"usage_iowait", find("cpu", "cpu", "cpu0"), "usage_iowait", 2.5},
		{"usage_guest", find("cpu", "cpu", "cpu0"), "usage_guest", 10.0},
		{"usage_guest_nice", find("cpu", "cpu", "cpu0"), "usage_guest_nice", 0.0},
		{"cpu1 idle", find("cpu", "cpu", "cpu1"), "usage_idle", 90.0},
		{"cpu-total idle", find("cpu", "cpu", "cpu-total"), "usage_idle", 70.0},
		{"mem used_percent", find("mem"), "used_percent", 25.0},
		{"mem available_percent", find("mem"), "available_percent", 75.0},
		{"mem uint64 clamps", find("mem"), "vmalloc_total", int64(1<<63 - 1)},
		{"swap in", find("swap"), "in", int64(4096)},
		{"n_users", find("system"), "n_users", int64(3)},
		{"n_unique_users", find("system"), "n_unique_users", int64(2)},
		{"uptime", find("system"), "uptime", int64(3*86400 + 4*3600 + 5*60)},
		{"uptime_format", find("system"), "uptime_format", "3 days,  4:05"},
		{"n_cpus", find("system"), "n_cpus", int64(2)},
		{"n_physical_cpus", find("system"), "n_physical_cpus", int64(1)},
		{"disk used_percent is used/(used+free)", find("disk", "path", "/"), "used_percent", 35.0 / 95 * 100},
		{"disk inodes_used_percent", find("disk", "path", "/"), "inodes_used_percent", 10.0},
		// sda: 40 I/Os took 80 ms of read+write time and 500 ms of io_time in 10 s.
		{"io_await", find("diskio", "name", "sda"), "io_await", 2.0},
		{"io_svctm", find("diskio", "name", "sda"), "io_svctm", 12.5},
		{"io_util", find("diskio", "name", "sda"), "io_util", 5.0},
		{"net speed", find("net", "interface", "eth0"), "speed", int64(1000)},
		{"processes total_threads", find("processes"), "total_threads", int64(300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.point.Field(tt.field)
			if f, ok := tt.want.(float64); ok {
				require.InDelta(t, f, got, 1e-9)
				return
			}
			require.Equal(t, tt.want, got)
		})
	}

	require.Equal(t, "web-1", find("processes").Tag("host"))
	require.Equal(t, "rw", find("disk", "path", "/data dir").Tag("mode"), "the top mount")
	require.Equal(t, "sda1", find("disk", "path", "/data dir").Tag("device"))
	nData := 0
	for _, p := range points {
		if p.Measurement == "disk" && p.Tag("path") == "/data dir" {
			nData++
		}
	}
	require.Equal(t, 1, nData, "a path mounted over is reported once")
	require.Nil(t, find("processes").Field("parked"), "parked only when there are parked processes")
}

func TestCollectorInputErrors(t *testing.T) {
	stats := &fakeStats{errs: map[string]error{
		"VirtualMemory": errors.New("meminfo: permission denied"),
		"NetIO":         errors.New("no /proc/net/dev"),
	}}
	c := NewCollector(testConfig(t, nil), stats)
	points, err := c.Sample(time.Unix(1_700_000_000, 0))
	require.Error(t, err)

	var failed []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ie *InputError
		require.ErrorAs(t, e, &ie)
		failed = append(failed, ie.Input)
	}
	require.Equal(t, []string{"mem", "net"}, failed)
	require.ErrorContains(t, err, "mem: meminfo: permission denied")

	seen := map[string]bool{}
	for _, p := range points {
		seen[p.Measurement] = true
	}
	require.Equal(t, map[string]bool{"swap": true, "system": true, "disk": true, "diskio": true, "processes": true}, seen,
		"the other inputs still report (cpu waits for its second sample)")

	// Users failing (no utmp) is not an error: the user counts are left out.
	stats.errs = map[string]error{"Users": errors.New("open /var/run/utmp: no such file or directory")}
	points, err = c.Sample(time.Unix(1_700_000_010, 0))
	require.NoError(t, err)
	for _, p := range points {
		if p.Measurement == "system" {
			require.Nil(t, p.Field("n_users"))
			require.NotNil(t, p.Field("load1"))
		}
	}
}

func TestCPUUsage(t *testing.T) {
	prev := cpu.TimesStat{User: 10, System: 10, Idle: 80}
	tests := []struct {
		name   string
		cur    cpu.TimesStat
		active bool
		want   map[string]float64
		ok     bool
	}{
		{name: "no time passed", cur: prev, ok: false},
		{name: "counters went back", cur: cpu.TimesStat{User: 5, System: 10, Idle: 80}, ok: false},
		{name: "all idle", cur: cpu.TimesStat{User: 10, System: 10, Idle: 180}, ok: true,
			want: map[string]float64{"usage_idle": 100, "usage_user": 0}},
		{name: "active", cur: cpu.TimesStat{User: 40, System: 20, Idle: 140}, active: true, ok: true,
			want: map[string]float64{"usage_user": 30, "usage_system": 10, "usage_idle": 60, "usage_active": 40}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields, ok := cpuUsage(prev, tt.cur, tt.active)
			require.Equal(t, tt.ok, ok)
			p := Point{Fields: fields}
			for k, v := range tt.want {
				require.InDelta(t, v, p.Field(k), 1e-9, k)
			}
			if !tt.active {
				require.Nil(t, p.Field("usage_active"))
			}
		})
	}
}

func TestDiskIORates(t *testing.T) {
	prev := disk.IOCountersStat{ReadCount: 10, WriteCount: 10, ReadTime: 100, WriteTime: 100, IoTime: 1000}
	tests := []struct {
		name string
		cur  disk.IOCountersStat
		want []string
	}{
		{name: "idle device: util only", cur: prev, want: []string{"io_util"}},
		{name: "busy", cur: disk.IOCountersStat{ReadCount: 20, WriteCount: 10, ReadTime: 150, WriteTime: 100, IoTime: 1100},
			want: []string{"io_await", "io_svctm", "io_util"}},
		{name: "counter wrapped", cur: disk.IOCountersStat{ReadCount: 1}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var keys []string
			for _, f := range diskIORates(prev, tt.cur, 10*time.Second) {
				keys = append(keys, f.Key)
			}
			require.Equal(t, tt.want, keys)
		})
	}
}

func TestFormatUptime(t *testing.T) {
	tests := []struct {
		uptime uint64
		want   string
	}{
		{0, " 0:00"},
		{59, " 0:00"},
		{5*3600 + 9*60, " 5:09"},
		{86400 + 7*60, "1 day,  0:07"},
		{3*86400 + 14*3600 + 5*60, "3 days, 14:05"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			require.Equal(t, tt.want, formatUptime(tt.uptime))
		})
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		state   byte
		threads int64
		ok      bool
	}{
		{name: "plain", line: "1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 9 10 11", state: 'S', threads: 1, ok: true},
		{name: "comm with spaces and parens", line: "42 (my (odd) proc) R 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 12 0 9 10 11", state: 'R', threads: 12, ok: true},
		{name: "zombie", line: "7 (z) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 10 11", state: 'Z', threads: 1, ok: true},
		{name: "truncated", line: "7 (z) Z 1 7", ok: false},
		{name: "no comm", line: "garbage", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, threads, ok := parseProcStat([]byte(tt.line))
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Equal(t, string(tt.state), string(state))
				require.Equal(t, tt.threads, threads)
			}
		})
	}
}

// TestHostStats runs the real gopsutil implementation on this machine: every input reports.
func TestHostStats(t *testing.T) {
	c := NewCollector(testConfig(t, func(c *Config) { c.CPU.PerCPU = true }), NewHostStats())
	_, err := c.Sample(time.Now())
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	points, err := c.Sample(time.Now())
	require.NoError(t, err)
	seen := map[string]int{}
	for _, p := range points {
		seen[p.Measurement]++
		require.NotEmpty(t, p.Line())
	}
	for _, m := range []string{"cpu", "mem", "swap", "system", "processes"} {
		require.Equal(t, 1+btoi(m == "cpu")*len(seenCPUs(points)), seen[m], m)
	}
	// disk, diskio and net depend on the machine; they are usually there.
	t.Logf("points per measurement: %v", seen)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func seenCPUs(points []Point) []string {
	var cpus []string
	for _, p := range points {
		if p.Measurement == "cpu" && p.Tag("cpu") != "cpu-total" {
			cpus = append(cpus, p.Tag("cpu"))
		}
	}
	return cpus
}
