package kafkaclient

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/testenv"
)

// roundTripValues are records shaped like logagent's JSON events (nginx
// lines), enough for several batches of several zstd blocks each.
func roundTripValues() [][]byte {
	vals := make([][]byte, 20000)
	for i := range vals {
		line := fmt.Sprintf(`10.%d.%d.%d - - [25/Nov/2026:14:23:%02d +0000] \"GET /api/v1/items/%d?page=%d HTTP/1.1\" %d %d \"-\" \"Mozilla/5.0 (X11; Linux x86_64) Firefox/%d.0\"`,
			i%256, i/256%256, i*7%256, i%60, i*31, i%17, 200+i%5*100, 512+i*13%4096, 100+i%30)
		vals[i] = fmt.Appendf(nil, `{"@timestamp":"2026-11-25T12:00:00Z","message":"%s","host":{"name":"host-1","ip":"10.0.0.1"},"log":{"file":{"path":"/var/log/nginx/access.log"},"offset":%d},"fields":{"env":"test"}}`, line, i*200)
	}
	return vals
}

// produceConsume produces vals with ProducerOpts (codec
// compression) to a fresh topic on brokers, consumes them back with a
// separate franz-go consumer and checks that every value came back, in order,
// from batches compressed with wantCodec (the record attributes' codec).
func produceConsume(t *testing.T, brokers []string, codec string, wantCodec uint8, vals [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := "roundtrip-" + codec
	opts, err := ProducerOpts(ProducerConfig{Config: Config{Brokers: brokers}, Compression: codec, Linger: config.Duration(5 * time.Millisecond), MaxBufferedRecords: 10000},
		slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	prod, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(topic))...)
	require.NoError(t, err)
	defer prod.Close()
	var failed atomic.Value
	var wg sync.WaitGroup
	for _, v := range vals {
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Key: []byte("k"), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("%s: produce: %v", codec, err)
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cons.Close()
	got := 0
	for got < len(vals) {
		fs := cons.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "%s: consumed %d of %d", codec, got, len(vals))
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("%s: fetch: %v", codec, err) })
		fs.EachRecord(func(r *kgo.Record) {
			require.Equal(t, wantCodec, r.Attrs.CompressionType(), "%s: codec of record %d", codec, got)
			require.True(t, bytes.Equal(vals[got], r.Value), "%s: record %d differs", codec, got)
			got++
		})
	}
}

// TestCompressionRoundTrip produces agent-like records with every compression
// setting to kfake and reads them back with a franz-go consumer; zstd is this
// package's compressor.
func TestCompressionRoundTrip(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	require.NoError(t, err)
	defer c.Close()
	vals := roundTripValues()
	for _, tc := range []struct {
		name  string
		codec uint8
	}{{"", 4}, {"zstd", 4}, {"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}} {
		v := vals
		if tc.codec != 4 {
			v = vals[:5000] // franz-go's codecs: a quicker check
		}
		produceConsume(t, c.ListenAddrs(), tc.name, tc.codec, v)
	}
}

// TestZstdCompressorRoundTrip sends records compressed by this package's zstd
// compressor through a real Apache Kafka broker, which decompresses every
// batch to validate it (zstd-jni), and reads them back with a franz-go
// consumer and with librdkafka (kcat).
func TestZstdCompressorRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Kafka broker")
	}
	k := testenv.StartKafka(t)
	vals := roundTripValues()
	produceConsume(t, k.Brokers(), "zstd", 4, vals)

	t.Run("librdkafka reads them", func(t *testing.T) {
		kcat := testenv.Tool(t, "kcat", "kcat")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, kcat, "-C", "-b", strings.Join(k.Brokers(), ","), "-t", "roundtrip-zstd",
			"-o", "beginning", "-e", "-q", "-D", "\n").Output()
		require.NoError(t, err, "kcat")
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		require.Len(t, lines, len(vals))
		for i, l := range lines {
			require.Equal(t, string(vals[i]), l, "kcat: record %d", i)
		}
	})
}

// TestZstdCompressor checks the compressor's own contract: one standard zstd
// frame without a checksum, decoded by a plain decoder, and no zstd for
// produce requests older than version 7.
func TestZstdCompressor(t *testing.T) {
	c := newZstdCompressor()
	var src []byte
	for _, v := range roundTripValues()[:3000] {
		src = append(src, v...)
	}
	dst := bytes.NewBuffer(make([]byte, 0, 64))
	out, codec := c.Compress(dst, src)
	require.Equal(t, kgo.CodecZstd, codec)
	require.Less(t, len(out), len(src)/4)
	dec, err := zstd.NewReader(nil)
	require.NoError(t, err)
	defer dec.Close()
	back, err := dec.DecodeAll(out, nil)
	require.NoError(t, err)
	require.Equal(t, src, back)
	var h zstd.Header
	require.NoError(t, h.Decode(out))
	require.False(t, h.HasCheckSum)

	out, codec = c.Compress(dst, src, kgo.CompressDisableZstd)
	require.Equal(t, kgo.CodecNone, codec)
	require.Equal(t, src, out)

	// a reused buffer, as the client's pool hands it back
	out, codec = c.Compress(dst, src[:100])
	require.Equal(t, kgo.CodecZstd, codec)
	back, err = dec.DecodeAll(out, nil)
	require.NoError(t, err)
	require.Equal(t, src[:100], back)
}

// BenchmarkZstdCompressor compresses a batch as logagent's producer sends
// one when tailing 50,000 lines/s at the default 10 ms linger (500 JSON
// events), back to back ("busy") and after 10 ms of sleep each time
// ("after_idle"), as a live tail does. compress-µs/op is the compression
// alone. A compression after an idle spell starts with its hash table, its
// history and its code out of the caches: on a 2-core VM it costs about
// three times a busy one (BENCHMARKS.md, "Live tail: the cost of waking").
// "new_encoder" compresses the batch with a new compressor each time: its
// B/op is what an encoder holds once it has compressed a batch (the pool
// makes one again after the collector emptied it).
func BenchmarkZstdCompressor(b *testing.B) {
	var src []byte
	for _, v := range roundTripValues()[:500] {
		src = append(src, v...)
	}
	b.Run("new_encoder", func(b *testing.B) {
		dst := bytes.NewBuffer(make([]byte, 0, 2*len(src)))
		b.ReportAllocs()
		for b.Loop() {
			newZstdCompressor().Compress(dst, src)
		}
	})
	for _, idle := range []time.Duration{0, 10 * time.Millisecond} {
		name := "busy"
		if idle > 0 {
			name = "after_idle"
		}
		b.Run(name, func(b *testing.B) {
			c := newZstdCompressor()
			dst := new(bytes.Buffer)
			var spent time.Duration
			for b.Loop() {
				time.Sleep(idle)
				start := time.Now()
				c.Compress(dst, src)
				spent += time.Since(start)
			}
			b.ReportMetric(float64(spent.Microseconds())/float64(b.N), "compress-µs/op")
		})
	}
}
