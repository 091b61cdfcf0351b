package kafkaclient

import (
	"bytes"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

// zstdCompressor is the producers' zstd batch compressor (kgo.WithCompressor).
// franz-go compresses each broker's produce batches serially in one
// goroutine, so at backlog speed the compressor bounds throughput; this one
// does less per batch than franz-go's default zstd compressor:
//
//   - no frame checksum (zstd.WithEncoderCRC(false)): Kafka record batches
//     carry their own CRC-32C over the compressed bytes, so the xxhash64 of
//     the uncompressed content only repeated what the batch CRC checks;
//   - the fastest level and a 64 KiB window, as franz-go's (a larger window
//     compressed logagent's JSON batches no better: their repeats are
//     within a few records), so decoders need little memory;
//   - the whole batch is encoded with EncodeAll into the client's pooled
//     buffer, grown once to the worst-case size;
//   - the encoder's history buffer is the window plus a block (192 KiB,
//     zstd.WithLowerEncoderMem) instead of 1 MiB: EncodeAll starts every
//     batch at the buffer's beginning, so a live tail's batches (~165 KB)
//     never used the rest, yet it counted in the heap (and the collector's
//     goal) for every pooled encoder; a larger batch now moves its last
//     window down whenever the buffer fills (64 KiB copied per 128 KiB
//     encoded; a 1 MB batch compressed no slower). The output is the same
//     byte for byte.
//
// The output is a standard single zstd frame, as franz-go's own, so any Kafka
// consumer (franz-go, the Java client, librdkafka) and the broker's own
// validation decode it: TestZstdCompressorRoundTrip proves it through a real
// broker and consumer.
type zstdCompressor struct {
	pool sync.Pool // *zstd.Encoder
}

// zstdWindow is the compressor's window and block size.
const zstdWindow = 64 << 10

func newZstdCompressor() *zstdCompressor {
	c := &zstdCompressor{}
	c.pool.New = func() any {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithWindowSize(zstdWindow),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false),
			zstd.WithZeroFrames(true),
			zstd.WithLowerEncoderMem(true),
		)
		if err != nil {
			panic(err) // constant, valid options
		}
		return e
	}
	return c
}

// Compress implements kgo.Compressor. Produce requests older than version 7
// (brokers before Kafka 2.1) cannot carry zstd: those batches go
// uncompressed, as franz-go's compressor does with zstd as its only codec.
func (c *zstdCompressor) Compress(dst *bytes.Buffer, src []byte, flags ...kgo.CompressFlag) ([]byte, kgo.CompressionCodecType) {
	for _, f := range flags {
		if f == kgo.CompressDisableZstd {
			return src, kgo.CodecNone
		}
	}
	e := c.pool.Get().(*zstd.Encoder)
	defer c.pool.Put(e)
	dst.Reset()
	if n := e.MaxEncodedSize(len(src)); n > dst.Cap() {
		dst.Grow(n)
	}
	return e.EncodeAll(src, dst.Bytes()[:0]), kgo.CodecZstd
}
