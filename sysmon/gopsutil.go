package sysmon

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	stdnet "net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/load"
	"github.com/shirou/gopsutil/v3/mem"
	"github.com/shirou/gopsutil/v3/net"
)

// gopsutilStats is the real HostStats: gopsutil for everything but the process states,
// which are read from /proc/<pid>/stat as Telegraf's processes input does (gopsutil's
// process package reads several files per process).
//
// Like gopsutil, it reads the host's /proc and /sys at $HOST_PROC and $HOST_SYS when set
// (a container watching its host).
type gopsutilStats struct {
	proc, sys string
	buf       []byte // reused by Processes
}

var _ HostStats = (*gopsutilStats)(nil)

// NewHostStats returns the HostStats of this host, read with gopsutil.
func NewHostStats() HostStats {
	return &gopsutilStats{proc: envOr("HOST_PROC", "/proc"), sys: envOr("HOST_SYS", "/sys"), buf: make([]byte, 0, 4096)}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (*gopsutilStats) CPUTimes(perCPU bool) ([]cpu.TimesStat, error) { return cpu.Times(perCPU) }
func (*gopsutilStats) CPUCounts(logical bool) (int, error)           { return cpu.Counts(logical) }
func (*gopsutilStats) VirtualMemory() (*mem.VirtualMemoryStat, error) {
	return mem.VirtualMemory()
}
func (*gopsutilStats) SwapMemory() (*mem.SwapMemoryStat, error)       { return mem.SwapMemory() }
func (*gopsutilStats) LoadAvg() (*load.AvgStat, error)                { return load.Avg() }
func (*gopsutilStats) Users() ([]host.UserStat, error)                { return host.Users() }
func (*gopsutilStats) BootTime() (uint64, error)                      { return host.BootTime() }
func (*gopsutilStats) Partitions() ([]disk.PartitionStat, error)      { return disk.Partitions(true) }
func (*gopsutilStats) DiskUsage(path string) (*disk.UsageStat, error) { return disk.Usage(path) }
func (*gopsutilStats) DiskIO() (map[string]disk.IOCountersStat, error) {
	return disk.IOCounters()
}
func (*gopsutilStats) NetIO() ([]net.IOCountersStat, error) { return net.IOCounters(true) }

// NetInterfaces uses the standard library: gopsutil's net.Interfaces also lists every
// address, which is not needed.
func (*gopsutilStats) NetInterfaces() ([]NetInterface, error) {
	ifaces, err := stdnet.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]NetInterface, len(ifaces))
	for i, iface := range ifaces {
		out[i] = NetInterface{
			Name:     iface.Name,
			Up:       iface.Flags&stdnet.FlagUp != 0,
			Loopback: iface.Flags&stdnet.FlagLoopback != 0,
		}
	}
	return out, nil
}

// NetSpeed reads /sys/class/net/<name>/speed (Mbit/s), as Telegraf does.
func (s *gopsutilStats) NetSpeed(name string) int64 {
	b, err := os.ReadFile(filepath.Join(s.sys, "class", "net", name, "speed"))
	if err != nil {
		return -1
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// Processes counts /proc/<pid>/stat states. A process that exits while it is read is
// skipped.
func (s *gopsutilStats) Processes() (ProcessCounts, error) {
	var pc ProcessCounts
	dir, err := os.Open(s.proc)
	if err != nil {
		return pc, err
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return pc, fmt.Errorf("list %s: %w", s.proc, err)
	}
	for _, name := range names {
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		stat, err := s.readFile(filepath.Join(s.proc, name, "stat"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
				continue
			}
			return pc, err
		}
		state, threads, ok := parseProcStat(stat)
		if !ok {
			continue
		}
		pc.count(state)
		pc.Threads += threads
	}
	return pc, nil
}

// readFile reads a small /proc file into the reused buffer with plain syscalls (os.Open
// adds fcntl and poller calls, a third of the cost here); the result is valid until the
// next call. procfs returns a stat file whole in one read.
func (s *gopsutilStats) readFile(name string) ([]byte, error) {
	fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	buf := s.buf[:cap(s.buf)]
	n, err := syscall.Read(fd, buf)
	for err == syscall.EINTR {
		n, err = syscall.Read(fd, buf)
	}
	switch {
	case err != nil:
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	case n == len(buf): // longer than expected: read it all
		return os.ReadFile(name)
	}
	return buf[:n], nil
}

// parseProcStat returns the state letter and the thread count of a /proc/<pid>/stat line:
// "pid (comm) S ppid ... num_threads ...". comm may hold spaces and parentheses, so the
// fields are counted from the last ')'.
func parseProcStat(b []byte) (state byte, threads int64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	// After comm: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	// cmajflt utime stime cutime cstime priority nice num_threads(20): the 18th field.
	rest := b[i+2:]
	var field []byte
	for n := 0; n < 18; n++ {
		rest = bytes.TrimLeft(rest, " ")
		if len(rest) == 0 {
			return 0, 0, false
		}
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		field, rest = rest[:end], rest[end:]
		if n == 0 {
			state = field[0]
		}
	}
	threads, err := strconv.ParseInt(string(bytes.TrimSpace(field)), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return state, threads, true
}

func (pc *ProcessCounts) count(state byte) {
	switch state {
	case 'R':
		pc.Running++
	case 'S':
		pc.Sleeping++
	case 'D':
		pc.Blocked++
	case 'Z':
		pc.Zombies++
	case 'T', 't':
		pc.Stopped++
	case 'X', 'x':
		pc.Dead++
	case 'W':
		pc.Paging++
	case 'I':
		pc.Idle++
	case 'P':
		pc.Parked++
	default:
		pc.Unknown++
	}
	pc.Total++
}
