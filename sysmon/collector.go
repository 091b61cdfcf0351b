package sysmon

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/load"
	"github.com/shirou/gopsutil/v3/mem"
	"github.com/shirou/gopsutil/v3/net"
)

// HostStats reads the host's statistics. It is what the Collector needs from gopsutil (see
// NewHostStats for the real one; tests use fakes). The Collector calls it from one
// goroutine at a time; the calls may block on /proc, /sys or statfs but take no context.
type HostStats interface {
	// CPUTimes returns the cumulative CPU times: of the whole host ("cpu-total") or, with
	// perCPU, of each CPU ("cpu0", "cpu1", ...).
	CPUTimes(perCPU bool) ([]cpu.TimesStat, error)
	// CPUCounts returns the number of logical CPUs or of physical cores.
	CPUCounts(logical bool) (int, error)
	VirtualMemory() (*mem.VirtualMemoryStat, error)
	SwapMemory() (*mem.SwapMemoryStat, error)
	LoadAvg() (*load.AvgStat, error)
	// Users returns the logged-in users (utmp).
	Users() ([]host.UserStat, error)
	// BootTime returns the boot time in seconds since the epoch.
	BootTime() (uint64, error)
	// Partitions returns every mount, pseudo file systems included.
	Partitions() ([]disk.PartitionStat, error)
	// DiskUsage returns the usage of the file system mounted at path (statfs).
	DiskUsage(path string) (*disk.UsageStat, error)
	// DiskIO returns the cumulative I/O counters of every block device, by name.
	DiskIO() (map[string]disk.IOCountersStat, error)
	// NetIO returns the cumulative counters of every network interface.
	NetIO() ([]net.IOCountersStat, error)
	// NetInterfaces returns the state of every network interface.
	NetInterfaces() ([]NetInterface, error)
	// NetSpeed returns the link speed of an interface in Mbit/s, -1 if unknown.
	NetSpeed(name string) int64
	// Processes counts the processes by state, and their threads.
	Processes() (ProcessCounts, error)
}

// NetInterface is the state of a network interface.
type NetInterface struct {
	Name     string
	Up       bool
	Loopback bool
}

// ProcessCounts counts processes by state (Linux /proc/<pid>/stat state letters in
// parentheses) and their threads.
type ProcessCounts struct {
	Running  int64 // R
	Sleeping int64 // S
	Blocked  int64 // D (uninterruptible sleep)
	Zombies  int64 // Z
	Stopped  int64 // T, t
	Dead     int64 // X
	Paging   int64 // W
	Idle     int64 // I
	Parked   int64 // P
	Unknown  int64 // anything else
	Total    int64
	Threads  int64
}

// countsRefresh is how many samples the CPU counts are cached for.
const countsRefresh = 60

// InputError is the failure of one input (measurement) in a sample.
type InputError struct {
	Input string
	Err   error
}

func (e *InputError) Error() string { return e.Input + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Collector samples a HostStats into points with Telegraf's schema (see the package doc).
// The cpu usage and the diskio rates need two samples: the first sample of a CPU or device
// only records its counters. It is not safe for concurrent use.
type Collector struct {
	cfg   Config
	stats HostStats
	tags  []Tag // host and the extra tags

	lastCPU    map[string]cpu.TimesStat
	lastDiskIO map[string]disk.IOCountersStat
	lastIOTime time.Time // of lastDiskIO
	// CPU counts, cached: gopsutil parses /proc/cpuinfo for them, the costliest read of a
	// sample on a many-core host. Refreshed every countsRefresh samples (CPU hotplug).
	nLogical, nPhysical int
	countsAge           int
}

// NewCollector returns a collector with cfg's input settings; cfg must be validated and
// cfg.Host set.
func NewCollector(cfg Config, stats HostStats) *Collector {
	tags := []Tag{{Key: "host", Value: cfg.Host}}
	for _, k := range slices.Sorted(maps.Keys(cfg.Tags)) {
		tags = append(tags, Tag{Key: k, Value: cfg.Tags[k]})
	}
	return &Collector{cfg: cfg, stats: stats, tags: tags}
}

// Sample reads every input and returns its points, all stamped t. An input that fails
// adds no points and an *InputError to the returned error (errors.Join); the others still
// report.
func (c *Collector) Sample(t time.Time) ([]Point, error) {
	points := make([]Point, 0, 32)
	var errs []error
	for _, in := range []struct {
		name   string
		sample func([]Point, time.Time) ([]Point, error)
	}{
		{"cpu", c.cpu},
		{"mem", c.mem},
		{"swap", c.swap},
		{"system", c.system},
		{"disk", c.disk},
		{"diskio", c.diskio},
		{"net", c.net},
		{"processes", c.processes},
	} {
		var err error
		n := len(points)
		if points, err = in.sample(points, t); err != nil {
			points = points[:n]
			errs = append(errs, &InputError{Input: in.name, Err: err})
		}
	}
	return points, errors.Join(errs...)
}

// point returns a point with the collector's tags plus tags.
func (c *Collector) point(measurement string, tags []Tag, fields []Field, t time.Time) Point {
	all := make([]Tag, 0, len(c.tags)+len(tags))
	all = append(append(all, c.tags...), tags...)
	return newPoint(measurement, all, fields, t)
}

func (c *Collector) cpu(points []Point, t time.Time) ([]Point, error) {
	times, err := c.stats.CPUTimes(false)
	if err != nil {
		return points, err
	}
	if c.cfg.CPU.PerCPU {
		per, err := c.stats.CPUTimes(true)
		if err != nil {
			return points, err
		}
		times = append(per, times...)
	}
	last := c.lastCPU
	c.lastCPU = make(map[string]cpu.TimesStat, len(times))
	for _, ts := range times {
		c.lastCPU[ts.CPU] = ts
		prev, ok := last[ts.CPU]
		if !ok {
			continue
		}
		fields, ok := cpuUsage(prev, ts, c.cfg.CPU.ReportActive)
		if ok {
			points = append(points, c.point("cpu", []Tag{{"cpu", ts.CPU}}, fields, t))
		}
	}
	return points, nil
}

// cpuUsage returns Telegraf's usage_* percentages between two readings of one CPU. Guest
// time is part of user time (and guest_nice of nice) in /proc/stat, so Telegraf subtracts
// it from usage_user and usage_nice and leaves it out of the total. ok is false when the
// total did not advance (or went backwards).
func cpuUsage(prev, cur cpu.TimesStat, active bool) (fields []Field, ok bool) {
	total := func(t cpu.TimesStat) float64 {
		return t.User + t.System + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal + t.Idle
	}
	dt := total(cur) - total(prev)
	if dt <= 0 {
		return nil, false
	}
	pct := func(v float64) float64 { return 100 * v / dt }
	fields = []Field{
		{"usage_user", pct(cur.User - prev.User - (cur.Guest - prev.Guest))},
		{"usage_system", pct(cur.System - prev.System)},
		{"usage_idle", pct(cur.Idle - prev.Idle)},
		{"usage_nice", pct(cur.Nice - prev.Nice - (cur.GuestNice - prev.GuestNice))},
		{"usage_iowait", pct(cur.Iowait - prev.Iowait)},
		{"usage_irq", pct(cur.Irq - prev.Irq)},
		{"usage_softirq", pct(cur.Softirq - prev.Softirq)},
		{"usage_steal", pct(cur.Steal - prev.Steal)},
		{"usage_guest", pct(cur.Guest - prev.Guest)},
		{"usage_guest_nice", pct(cur.GuestNice - prev.GuestNice)},
	}
	if active {
		fields = append(fields, Field{"usage_active", pct(total(cur) - cur.Idle - (total(prev) - prev.Idle))})
	}
	return fields, true
}

func (c *Collector) mem(points []Point, t time.Time) ([]Point, error) {
	vm, err := c.stats.VirtualMemory()
	if err != nil {
		return points, err
	}
	return append(points, c.point("mem", nil, memFields(vm), t)), nil
}

// memFields are Telegraf's Linux mem fields. used_percent and available_percent are
// computed from total as Telegraf does (not gopsutil's UsedPercent).
func memFields(vm *mem.VirtualMemoryStat) []Field {
	pct := func(v uint64) float64 { return 100 * float64(v) / float64(vm.Total) }
	return []Field{
		{"total", u64(vm.Total)},
		{"available", u64(vm.Available)},
		{"used", u64(vm.Used)},
		{"used_percent", pct(vm.Used)},
		{"available_percent", pct(vm.Available)},
		{"active", u64(vm.Active)},
		{"buffered", u64(vm.Buffers)},
		{"cached", u64(vm.Cached)},
		{"commit_limit", u64(vm.CommitLimit)},
		{"committed_as", u64(vm.CommittedAS)},
		{"dirty", u64(vm.Dirty)},
		{"free", u64(vm.Free)},
		{"high_free", u64(vm.HighFree)},
		{"high_total", u64(vm.HighTotal)},
		{"huge_pages_free", u64(vm.HugePagesFree)},
		{"huge_page_size", u64(vm.HugePageSize)},
		{"huge_pages_total", u64(vm.HugePagesTotal)},
		{"inactive", u64(vm.Inactive)},
		{"low_free", u64(vm.LowFree)},
		{"low_total", u64(vm.LowTotal)},
		{"mapped", u64(vm.Mapped)},
		{"page_tables", u64(vm.PageTables)},
		{"shared", u64(vm.Shared)},
		{"slab", u64(vm.Slab)},
		{"sreclaimable", u64(vm.Sreclaimable)},
		{"sunreclaim", u64(vm.Sunreclaim)},
		{"swap_cached", u64(vm.SwapCached)},
		{"swap_free", u64(vm.SwapFree)},
		{"swap_total", u64(vm.SwapTotal)},
		{"vmalloc_chunk", u64(vm.VmallocChunk)},
		{"vmalloc_total", u64(vm.VmallocTotal)},
		{"vmalloc_used", u64(vm.VmallocUsed)},
		{"write_back", u64(vm.WriteBack)},
		{"write_back_tmp", u64(vm.WriteBackTmp)},
	}
}

func (c *Collector) swap(points []Point, t time.Time) ([]Point, error) {
	s, err := c.stats.SwapMemory()
	if err != nil {
		return points, err
	}
	return append(points, c.point("swap", nil, []Field{
		{"total", u64(s.Total)},
		{"used", u64(s.Used)},
		{"free", u64(s.Free)},
		{"used_percent", s.UsedPercent},
		{"in", u64(s.Sin)},
		{"out", u64(s.Sout)},
	}, t)), nil
}

func (c *Collector) system(points []Point, t time.Time) ([]Point, error) {
	avg, err := c.stats.LoadAvg()
	if err != nil {
		return points, fmt.Errorf("load average: %w", err)
	}
	if c.countsAge--; c.countsAge <= 0 {
		if c.nLogical, err = c.stats.CPUCounts(true); err != nil {
			return points, fmt.Errorf("cpu count: %w", err)
		}
		if c.nPhysical, err = c.stats.CPUCounts(false); err != nil {
			return points, fmt.Errorf("core count: %w", err)
		}
		c.countsAge = countsRefresh
	}
	boot, err := c.stats.BootTime()
	if err != nil {
		return points, fmt.Errorf("boot time: %w", err)
	}
	var uptime uint64
	if now := t.Unix(); now > int64(boot) {
		uptime = uint64(now) - boot
	}
	fields := []Field{
		{"load1", avg.Load1},
		{"load5", avg.Load5},
		{"load15", avg.Load15},
		{"n_cpus", int64(c.nLogical)},
		{"n_physical_cpus", int64(c.nPhysical)},
		{"uptime", u64(uptime)},
		{"uptime_format", formatUptime(uptime)},
		{"boot_time", u64(boot)},
	}
	// Like Telegraf, a host without utmp reports no user counts rather than failing.
	if users, err := c.stats.Users(); err == nil {
		unique := make(map[string]bool, len(users))
		for _, u := range users {
			unique[u.User] = true
		}
		fields = append(fields, Field{"n_users", int64(len(users))}, Field{"n_unique_users", int64(len(unique))})
	}
	return append(points, c.point("system", nil, fields, t)), nil
}

// formatUptime is Telegraf's uptime_format: "3 days, 4:05", "1 day,  0:07", " 5:09".
func formatUptime(uptime uint64) string {
	var b strings.Builder
	if days := uptime / 86400; days > 0 {
		s := ""
		if days > 1 {
			s = "s"
		}
		fmt.Fprintf(&b, "%d day%s, ", days, s)
	}
	fmt.Fprintf(&b, "%2d:%02d", uptime/3600%24, uptime/60%60)
	return b.String()
}

func (c *Collector) disk(points []Point, t time.Time) ([]Point, error) {
	parts, err := c.stats.Partitions()
	if err != nil {
		return points, err
	}
	cfg := c.cfg.Disk
	// A path mounted over (twice in the mount table) shows only its last mount: report
	// that one, once. (Telegraf reports it twice, with the same series key and values.)
	last := make(map[string]int, len(parts))
	for i, p := range parts {
		last[p.Mountpoint] = i
	}
	for i, p := range parts {
		if last[p.Mountpoint] != i || slices.Contains(cfg.IgnoreFS, p.Fstype) ||
			(len(cfg.MountPoints) > 0 && !matchAny(cfg.MountPoints, p.Mountpoint)) ||
			matchAny(cfg.IgnoreMountPoints, p.Mountpoint) {
			continue
		}
		du, err := c.stats.DiskUsage(p.Mountpoint)
		if err != nil || du.Total == 0 {
			// Like Telegraf: a mount that cannot be read (permissions, stale NFS) is
			// skipped, as are dummy file systems of size 0.
			continue
		}
		points = append(points, c.point("disk", diskTags(p), diskFields(du), t))
	}
	return points, nil
}

func diskTags(p disk.PartitionStat) []Tag {
	mode := "unknown"
	if slices.Contains(p.Opts, "rw") {
		mode = "rw"
	} else if slices.Contains(p.Opts, "ro") {
		mode = "ro"
	}
	return []Tag{
		{"path", p.Mountpoint},
		{"device", strings.ReplaceAll(p.Device, "/dev/", "")},
		{"fstype", p.Fstype},
		{"mode", mode},
	}
}

// diskFields are Telegraf's: used_percent is used/(used+free) as Telegraf computes it, not
// used/total (the root reserve counts as neither).
func diskFields(du *disk.UsageStat) []Field {
	var usedPct, inodesPct float64
	if du.Used+du.Free > 0 {
		usedPct = float64(du.Used) / (float64(du.Used) + float64(du.Free)) * 100
	}
	if du.InodesUsed+du.InodesFree > 0 {
		inodesPct = float64(du.InodesUsed) / (float64(du.InodesUsed) + float64(du.InodesFree)) * 100
	}
	return []Field{
		{"total", u64(du.Total)},
		{"free", u64(du.Free)},
		{"used", u64(du.Used)},
		{"used_percent", usedPct},
		{"inodes_total", u64(du.InodesTotal)},
		{"inodes_free", u64(du.InodesFree)},
		{"inodes_used", u64(du.InodesUsed)},
		{"inodes_used_percent", inodesPct},
	}
}

func (c *Collector) diskio(points []Point, t time.Time) ([]Point, error) {
	io, err := c.stats.DiskIO()
	if err != nil {
		return points, err
	}
	cfg := c.cfg.DiskIO
	last, lastTime := c.lastDiskIO, c.lastIOTime
	c.lastDiskIO, c.lastIOTime = io, t
	for _, name := range slices.Sorted(maps.Keys(io)) {
		if (len(cfg.Devices) > 0 && !matchAny(cfg.Devices, name)) || matchAny(cfg.IgnoreDevices, name) {
			continue
		}
		cur := io[name]
		fields := []Field{
			{"reads", u64(cur.ReadCount)},
			{"writes", u64(cur.WriteCount)},
			{"read_bytes", u64(cur.ReadBytes)},
			{"write_bytes", u64(cur.WriteBytes)},
			{"read_time", u64(cur.ReadTime)},
			{"write_time", u64(cur.WriteTime)},
			{"io_time", u64(cur.IoTime)},
			{"weighted_io_time", u64(cur.WeightedIO)},
			{"iops_in_progress", u64(cur.IopsInProgress)},
			{"merged_reads", u64(cur.MergedReadCount)},
			{"merged_writes", u64(cur.MergedWriteCount)},
		}
		if prev, ok := last[name]; ok {
			fields = append(fields, diskIORates(prev, cur, t.Sub(lastTime))...)
		}
		points = append(points, c.point("diskio", []Tag{{"name", name}}, fields, t))
	}
	return points, nil
}

// diskIORates are Telegraf's io_await, io_svctm (ms per I/O) and io_util (percent of the
// interval busy), computed when no counter wrapped.
func diskIORates(prev, cur disk.IOCountersStat, elapsed time.Duration) []Field {
	if cur.ReadCount < prev.ReadCount || cur.WriteCount < prev.WriteCount ||
		cur.ReadTime < prev.ReadTime || cur.WriteTime < prev.WriteTime || cur.IoTime < prev.IoTime {
		return nil
	}
	var fields []Field
	ios := float64(cur.ReadCount-prev.ReadCount) + float64(cur.WriteCount-prev.WriteCount)
	rwTime := float64(cur.ReadTime-prev.ReadTime) + float64(cur.WriteTime-prev.WriteTime)
	ioTime := float64(cur.IoTime - prev.IoTime)
	if ios > 0 {
		fields = append(fields, Field{"io_await", rwTime / ios}, Field{"io_svctm", ioTime / ios})
	}
	if ms := float64(elapsed.Milliseconds()); ms > 0 {
		fields = append(fields, Field{"io_util", 100 * ioTime / ms})
	}
	return fields
}

func (c *Collector) net(points []Point, t time.Time) ([]Point, error) {
	counters, err := c.stats.NetIO()
	if err != nil {
		return points, err
	}
	cfg := c.cfg.Net
	var state map[string]NetInterface
	if len(cfg.Interfaces) == 0 {
		ifaces, err := c.stats.NetInterfaces()
		if err != nil {
			return points, err
		}
		state = make(map[string]NetInterface, len(ifaces))
		for _, i := range ifaces {
			state[i.Name] = i
		}
	}
	for _, io := range counters {
		if len(cfg.Interfaces) > 0 {
			if !matchAny(cfg.Interfaces, io.Name) {
				continue
			}
		} else if i, ok := state[io.Name]; !ok || !i.Up || i.Loopback {
			continue
		}
		if matchAny(cfg.IgnoreInterfaces, io.Name) {
			continue
		}
		points = append(points, c.point("net", []Tag{{"interface", io.Name}}, []Field{
			{"bytes_sent", u64(io.BytesSent)},
			{"bytes_recv", u64(io.BytesRecv)},
			{"packets_sent", u64(io.PacketsSent)},
			{"packets_recv", u64(io.PacketsRecv)},
			{"err_in", u64(io.Errin)},
			{"err_out", u64(io.Errout)},
			{"drop_in", u64(io.Dropin)},
			{"drop_out", u64(io.Dropout)},
			{"speed", c.stats.NetSpeed(io.Name)},
		}, t))
	}
	return points, nil
}

func (c *Collector) processes(points []Point, t time.Time) ([]Point, error) {
	p, err := c.stats.Processes()
	if err != nil {
		return points, err
	}
	fields := []Field{
		{"blocked", p.Blocked},
		{"zombies", p.Zombies},
		{"stopped", p.Stopped},
		{"running", p.Running},
		{"sleeping", p.Sleeping},
		{"total", p.Total},
		{"unknown", p.Unknown},
		{"dead", p.Dead},
		{"paging", p.Paging},
		{"total_threads", p.Threads},
		{"idle", p.Idle},
	}
	if p.Parked > 0 { // as Telegraf: only when there are parked processes
		fields = append(fields, Field{"parked", p.Parked})
	}
	return append(points, c.point("processes", nil, fields, t)), nil
}

// matchAny reports whether name matches one of the path.Match patterns (validated).
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
