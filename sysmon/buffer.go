package sysmon

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
)

// chunkBytes is the size at which the open chunk of a pointBuffer is sealed (compressed).
// Line protocol of host samples compresses about 10x with S2 at 64 KiB (measured: 16 KiB
// 6.8x, 64 KiB 9.9x, 128 KiB 12x), in about 0.1 ms.
const chunkBytes = 64 << 10

// pointBuffer is a FIFO of line-protocol records, one point each, stored compactly: records
// are appended, length-prefixed, to an open chunk, which is sealed (compressed with S2) once
// it holds chunkBytes. 100k buffered points of ~260 bytes take ~3 MB instead of ~30 MB as
// strings. Removing points from the front (dropping or taking them) only advances the
// front chunk's skip count; a chunk's memory is freed when its last point is removed.
// It is not safe for concurrent use; the Writer guards it with its mutex.
type pointBuffer struct {
	sealed []*chunk // oldest first; sealed[head:] hold points
	head   int
	open   chunk // newest points, not compressed; after sealed
	n      int   // points buffered

	scratch []byte // encode/decode buffer, reused
}

// chunk is a run of records, each a uvarint length then the line. data is S2-compressed
// when the chunk is sealed. The first skip records were removed already.
type chunk struct {
	data    []byte
	n, skip int
}

// Len returns the number of buffered points.
func (b *pointBuffer) Len() int { return b.n }

// Push appends one record (a line without its newline).
func (b *pointBuffer) Push(line []byte) {
	b.open.data = binary.AppendUvarint(b.open.data, uint64(len(line)))
	b.open.data = append(b.open.data, line...)
	b.open.n++
	b.n++
	if len(b.open.data) >= chunkBytes {
		b.sealed = append(b.sealed, b.seal(&b.open))
		b.open.data, b.open.n, b.open.skip = b.open.data[:0], 0, 0
	}
}

// seal returns a compressed copy of c, holding only c's records not removed yet.
func (b *pointBuffer) seal(c *chunk) *chunk {
	raw := c.data
	if c.skip > 0 {
		raw = raw[recordOffset(raw, c.skip):]
	}
	b.scratch = s2.Encode(b.scratch[:cap(b.scratch)], raw)
	return &chunk{data: slices.Clone(b.scratch), n: c.n - c.skip}
}

// recordOffset returns the byte offset of record i in raw.
func recordOffset(raw []byte, i int) int {
	off := 0
	for ; i > 0; i-- {
		l, k := binary.Uvarint(raw[off:])
		off += k + int(l)
	}
	return off
}

// front returns the oldest chunk holding points, or nil.
func (b *pointBuffer) front() *chunk {
	if b.head < len(b.sealed) {
		return b.sealed[b.head]
	}
	if b.open.n > b.open.skip {
		return &b.open
	}
	return nil
}

// removeFront removes up to k points from the front chunk c after they were dropped or
// read, releasing the chunk when it is spent, and returns how many it removed.
func (b *pointBuffer) removeFront(c *chunk, k int) int {
	k = min(k, c.n-c.skip)
	c.skip += k
	b.n -= k
	if c.skip < c.n {
		return k
	}
	if c == &b.open {
		b.open.data, b.open.n, b.open.skip = b.open.data[:0], 0, 0
		return k
	}
	b.sealed[b.head] = nil
	b.head++
	if b.head == len(b.sealed) {
		b.sealed, b.head = b.sealed[:0], 0
	} else if b.head >= 64 && b.head*2 >= len(b.sealed) {
		n := copy(b.sealed, b.sealed[b.head:])
		clear(b.sealed[n:])
		b.sealed, b.head = b.sealed[:n], 0
	}
	return k
}

// DropFront removes the k oldest points (fewer if fewer are buffered) and returns how
// many it removed.
func (b *pointBuffer) DropFront(k int) int {
	removed := 0
	for removed < k {
		c := b.front()
		if c == nil {
			break
		}
		removed += b.removeFront(c, k-removed)
	}
	return removed
}

// PopFront removes and returns up to max of the oldest points, oldest first. It panics if
// a chunk does not decode: the buffer only decodes what it encoded itself in memory, so that
// is a bug, and a crash is better than losing the points quietly.
func (b *pointBuffer) PopFront(max int) []string {
	var out []string
	for len(out) < max {
		c := b.front()
		if c == nil {
			break
		}
		raw := c.data
		if c != &b.open {
			var err error
			if b.scratch, err = s2.Decode(b.scratch[:cap(b.scratch)], c.data); err != nil {
				panic(fmt.Sprintf("sysmon: point buffer: decode chunk of %d points: %v", c.n, err))
			}
			raw = b.scratch
		}
		k := min(max-len(out), c.n-c.skip)
		off := recordOffset(raw, c.skip)
		// One string per chunk read; the records are substrings of it.
		end := recordOffset(raw[off:], k) + off
		s := string(raw[off:end])
		for pos := 0; pos < len(s); {
			l, n := binary.Uvarint(raw[off+pos:])
			out = append(out, s[pos+n:pos+n+int(l)])
			pos += n + int(l)
		}
		b.removeFront(c, k)
	}
	return out
}

// PushFront puts lines back at the front, before every buffered point, in order (a write
// that failed returns its batch). They are sealed in chunks of about chunkBytes, like pushed
// points, so that reading them back needs no larger buffer.
func (b *pointBuffer) PushFront(lines []string) {
	var (
		chunks []*chunk
		raw    []byte
		n      int
	)
	for i, l := range lines {
		raw = binary.AppendUvarint(raw, uint64(len(l)))
		raw = append(raw, l...)
		n++
		if len(raw) >= chunkBytes || i == len(lines)-1 {
			chunks = append(chunks, b.seal(&chunk{data: raw, n: n}))
			raw, n = raw[:0], 0
		}
	}
	if len(chunks) <= b.head {
		b.head -= len(chunks)
		copy(b.sealed[b.head:], chunks)
	} else {
		b.sealed = slices.Insert(b.sealed[b.head:], 0, chunks...)
		b.head = 0
	}
	b.n += len(lines)
}

// Reset empties the buffer and returns how many points it held.
func (b *pointBuffer) Reset() int {
	n := b.n
	*b = pointBuffer{}
	return n
}

// Bytes returns the memory the buffered data takes (compressed chunks and the open chunk's
// capacity), for tests and benchmarks.
func (b *pointBuffer) Bytes() int {
	n := cap(b.open.data) + cap(b.scratch)
	for _, c := range b.sealed[b.head:] {
		n += cap(c.data)
	}
	return n
}
