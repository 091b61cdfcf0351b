package sysmon

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSample measures one sample of every input with the real gopsutil stats and the
// default config, and its encoding to line protocol (what the writer buffers). Besides
// ns/op (wall) it reports the CPU time per sample and what that costs of one core at the
// default 10 s interval.
func BenchmarkSample(b *testing.B) {
	for _, bc := range []struct {
		name string
		edit func(*Config)
	}{
		{"default", nil},
		{"per_cpu", func(c *Config) { c.CPU.PerCPU = true }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := Config{Host: "bench", Influx: InfluxConfig{URL: "http://127.0.0.1:8086", Bucket: "b"}}
			if bc.edit != nil {
				bc.edit(&cfg)
			}
			if err := cfg.Validate(); err != nil {
				b.Fatal(err)
			}
			c := NewCollector(cfg, NewHostStats())
			t := time.Now()
			if _, err := c.Sample(t); err != nil {
				b.Fatal(err)
			}
			var line []byte
			points, lineBytes := 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for b.Loop() {
				t = t.Add(10 * time.Second)
				ps, err := c.Sample(t)
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range ps {
					line = p.AppendLine(line[:0])
					lineBytes += len(line)
				}
				points += len(ps)
			}
			perSample := (cpuTime(b) - cpu0) / time.Duration(b.N)
			b.ReportMetric(float64(perSample.Microseconds()), "cpu-µs/sample")
			b.ReportMetric(100*perSample.Seconds()/10, "%core@10s")
			b.ReportMetric(float64(points)/float64(b.N), "points/sample")
			b.ReportMetric(float64(lineBytes)/float64(max(1, points)), "bytes/point")
		})
	}
}

// BenchmarkInputs splits a sample by input, to find the costly reads.
func BenchmarkInputs(b *testing.B) {
	cfg := Config{Host: "bench", Influx: InfluxConfig{URL: "http://127.0.0.1:8086", Bucket: "b"}}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	c := NewCollector(cfg, NewHostStats())
	for _, in := range []struct {
		name   string
		sample func([]Point, time.Time) ([]Point, error)
	}{
		{"cpu", c.cpu}, {"mem", c.mem}, {"swap", c.swap}, {"system", c.system},
		{"disk", c.disk}, {"diskio", c.diskio}, {"net", c.net}, {"processes", c.processes},
	} {
		b.Run(in.name, func(b *testing.B) {
			t := time.Now()
			var buf []Point
			for b.Loop() {
				t = t.Add(10 * time.Second)
				var err error
				if buf, err = in.sample(buf[:0], t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
