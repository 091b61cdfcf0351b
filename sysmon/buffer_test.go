package sysmon

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// testLine returns a line of about 260 bytes (a host sample's average) that names i.
func testLine(i int) string {
	return fmt.Sprintf("mem,host=h%d active=%di,available=%di,available_percent=%g,buffered=%di,cached=%di,"+
		"commit_limit=%di,committed_as=%di,dirty=%di,free=%di,used_percent=%g %d",
		i%7, i*31, i*17, float64(i)/7, i, i*3, i*5, i*11, i%13, i*19, float64(i%100)/3, 1732550000000000000+int64(i)*1e10)
}

// bufferModel is the reference for pointBuffer: a plain slice.
type bufferModel []string

func TestPointBufferMatchesModel(t *testing.T) {
	type op struct {
		kind string // push, drop, pop, pushFront
		n    int
	}
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"empty pop and drop", []op{{"pop", 10}, {"drop", 5}}},
		{"within the open chunk", []op{{"push", 10}, {"drop", 3}, {"pop", 4}, {"push", 5}, {"pop", 100}}},
		{"across sealed chunks", []op{{"push", 2000}, {"pop", 300}, {"drop", 700}, {"pop", 5000}}},
		{"drop from a partly read chunk then seal", []op{{"push", 100}, {"drop", 50}, {"push", 400}, {"pop", 1000}}},
		{"failed batch goes back to the front", []op{{"push", 1500}, {"pop", 700}, {"pushFront", 700}, {"pop", 2000}}},
		{"batch back after drops", []op{{"push", 1500}, {"pop", 1000}, {"drop", 200}, {"pushFront", 1000}, {"push", 10}, {"pop", 3000}}},
		{"drop more than buffered", []op{{"push", 1000}, {"drop", 5000}, {"push", 3}, {"pop", 10}}},
		{"large failed batch", []op{{"push", 6000}, {"pop", 5000}, {"pushFront", 5000}, {"drop", 1}, {"pop", 7000}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				b       pointBuffer
				model   bufferModel
				next    int
				lastPop []string
			)
			for _, o := range tc.ops {
				switch o.kind {
				case "push":
					for range o.n {
						l := testLine(next)
						next++
						b.Push([]byte(l))
						model = append(model, l)
					}
				case "drop":
					want := min(o.n, len(model))
					require.Equal(t, want, b.DropFront(o.n))
					model = model[want:]
				case "pop":
					got := b.PopFront(o.n)
					want := model[:min(o.n, len(model))]
					if len(want) == 0 {
						require.Empty(t, got)
					} else {
						require.Equal(t, []string(want), got)
					}
					model = model[len(want):]
					lastPop = got
				case "pushFront":
					back := lastPop[len(lastPop)-o.n:]
					b.PushFront(back)
					model = append(append(bufferModel{}, back...), model...)
				}
				require.Equal(t, len(model), b.Len(), "after %s %d", o.kind, o.n)
			}
			require.Equal(t, nonNil(model), nonNil(b.PopFront(len(model)+1)))
			require.Zero(t, b.Len())
		})
	}
}

func nonNil[S ~[]string](s S) []string {
	if s == nil {
		return []string{}
	}
	return []string(s)
}

// TestPointBufferRandom checks random operation sequences against the model.
func TestPointBufferRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("a long random sequence")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var (
		b     pointBuffer
		model []string
		next  int
	)
	for step := range 3000 {
		switch r := rng.IntN(10); {
		case r < 5:
			for range rng.IntN(40) {
				l := testLine(next)
				if rng.IntN(50) == 0 {
					l = strings.Repeat("x", rng.IntN(3*chunkBytes)) // longer than a chunk
				}
				next++
				b.Push([]byte(l))
				model = append(model, l)
			}
		case r < 7:
			k := rng.IntN(60)
			want := min(k, len(model))
			require.Equal(t, want, b.DropFront(k))
			model = model[want:]
		default:
			k := rng.IntN(300)
			got := b.PopFront(k)
			want := model[:min(k, len(model))]
			require.Equal(t, len(want), len(got), "step %d", step)
			for i := range got {
				require.Equal(t, want[i], got[i], "step %d point %d", step, i)
			}
			model = model[len(want):]
			if rng.IntN(2) == 0 { // the write failed: the batch goes back
				b.PushFront(got)
				model = append(append([]string{}, got...), model...)
			}
		}
		require.Equal(t, len(model), b.Len(), "step %d", step)
	}
}

// TestWriterFullBufferMemory fills the writer's buffer to the default 100k points of
// realistic line protocol (InfluxDB down) and checks the heap it takes: the points are
// kept compressed, not as one string each (which took ~30 MB).
func TestWriterFullBufferMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a 100k-point buffer")
	}
	cfg := Config{Host: "bench", Influx: InfluxConfig{URL: "http://127.0.0.1:8086", Bucket: "b"}, CPU: CPUConfig{PerCPU: true}}
	require.NoError(t, cfg.Validate())
	c := NewCollector(cfg, NewHostStats())
	now := time.Now().Truncate(10 * time.Second)
	_, _ = c.Sample(now)
	var samples [][]Point
	for i := range 50 { // real samples, reused with advancing times
		ps, err := c.Sample(now.Add(time.Duration(i+1) * 10 * time.Second))
		require.NoError(t, err)
		samples = append(samples, ps)
	}

	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	w := NewWriter(WriterConfig{BatchSize: 5000, Timeout: time.Second, MaxRetryDelay: time.Second, MaxBufferedPoints: 100_000},
		nil, slog.New(slog.DiscardHandler), NewMetrics(prometheus.NewRegistry()))
	var (
		line  []byte
		first []string // the first lines added, to check what was dropped
	)
	lineBytes, points := 0, 0
	for i := 0; w.Buffered() < 100_000; i++ {
		ps := samples[i%len(samples)]
		for j := range ps {
			ps[j].Time = now.Add(time.Duration(i) * 10 * time.Second)
			line = ps[j].AppendLine(line[:0])
			lineBytes += len(line)
			points++
			if len(first) < 4*len(samples[0]) {
				first = append(first, string(line))
			}
		}
		w.Add(ps)
	}
	w.Add(samples[0]) // one more sample: the oldest make room
	points += len(samples[0])
	after := heap()
	require.Equal(t, 100_000, w.Buffered())
	overflow := points - 100_000
	require.Equal(t, float64(overflow), dropped(w.m, dropOverflow))
	require.Equal(t, int64(points), w.addedPoints())
	used := int64(after) - int64(before)
	t.Logf("100k points (%d bytes/point of line protocol, %.1f MiB raw): heap +%.2f MiB, buffer %.2f MiB",
		lineBytes/points, float64(lineBytes)/(1<<20), float64(used)/(1<<20), float64(w.buf.Bytes())/(1<<20))
	require.Less(t, used, int64(8<<20), "a full buffer takes less than 8 MiB of heap")

	// Every point still reads back, oldest first (the first sample was dropped).
	got := w.buf.PopFront(100_000)
	require.Len(t, got, 100_000)
	require.Less(t, overflow, len(first))
	require.Equal(t, first[overflow:], got[:len(first)-overflow])
}

func BenchmarkPointBuffer(b *testing.B) {
	lines := make([][]byte, 1000)
	for i := range lines {
		lines[i] = []byte(testLine(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		var buf pointBuffer
		for _, l := range lines {
			buf.Push(l)
		}
		for buf.Len() > 0 {
			buf.PopFront(500)
		}
	}
}
