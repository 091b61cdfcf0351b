package agent

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// arena hands out inflights and record value buffers in blocks, so shipping
// a backlog costs no allocation per line. A read pass's first block is sized
// from the bytes the pass has ahead of it (expect), and blocks grow from
// there up to arenaMaxBlock while the pass goes on; reset drops them when it
// ends, so an idle file holds no block. A block goes back to a pool of its
// size once the arena has moved on and Kafka has acknowledged (or failed) all
// its records, so a backlog, and many files read in turn in short passes,
// reuse the same few blocks instead of allocating (and the GC scanning) one
// per pass or per 256 lines.
//
// A recycled block's inflights are written again while kgo may still call
// the context of one of its records (see inflight): that is safe because
// inflight's context methods read nothing (TestArenaReuseAfterNewTopic, under
// -race, is the check).
//
// Blocks change only in next, so the bytes of a record (taken with value and
// used before or after its inflight, in any order) are in the block of its
// inflight or, when next started a new block, in the one before, which the
// inflight then also holds (inflight.prev).
type arena struct {
	blk   *arenaBlock // the current block, nil before the first
	recs  []inflight  // its free inflights
	buf   []byte      // its value buffer: used up to len, free after
	full  bool        // the buffer ran short: the next inflight starts a new block
	block int         // records in the next block
}

// arenaBlock is one block's memory. refs counts its inflights not yet done,
// the arena's free ones included, plus one while it is an arena's current
// block: next hands one out without touching refs, and the arena drops the
// free ones and its own when it moves on.
type arenaBlock struct {
	recs []inflight
	buf  []byte
	refs atomic.Int32
}

const (
	arenaMinBlock = 4
	arenaMaxBlock = 256
	arenaBufPer   = 512 // value bytes reserved per record of a block
	arenaClasses  = 7   // block sizes: arenaMinBlock << 0 .. arenaClasses-1 == arenaMaxBlock
)

// arenaPools recycle blocks, one pool per block size.
var arenaPools [arenaClasses]sync.Pool

func arenaClass(records int) int { return bits.Len(uint(records/arenaMinBlock)) - 1 }

func newArenaBlock(records int) *arenaBlock {
	if b, ok := arenaPools[arenaClass(records)].Get().(*arenaBlock); ok {
		return b
	}
	return &arenaBlock{recs: make([]inflight, records), buf: make([]byte, records*arenaBufPer)}
}

// done drops one reference to b (an inflight's), and recycles b when it was
// the last. A nil b (an inflight not from an arena) is left alone.
func (b *arenaBlock) done() { b.drop(1) }

func (b *arenaBlock) drop(n int32) {
	if b == nil || b.refs.Add(-n) != 0 {
		return
	}
	clear(b.recs) // drop what the records pointed to
	arenaPools[arenaClass(len(b.recs))].Put(b)
}

func (a *arena) reset() {
	a.leave()
	*a = arena{}
}

// leave drops the arena's references to its current block.
func (a *arena) leave() {
	if a.blk != nil {
		a.blk.drop(int32(len(a.recs)) + 1)
	}
}

// expect sizes the first block of a pass for bytes of lines ahead (at
// arenaBufPer bytes a record): a backlog starts with full blocks, a trickle
// with small ones. It has effect only before the pass's first block.
func (a *arena) expect(bytes int64) {
	if a.blk != nil {
		return
	}
	recs := int(min(bytes/arenaBufPer, arenaMaxBlock))
	a.block = (1 << bits.Len(uint(max(recs, arenaMinBlock)-1))) / 2 // grow doubles it: the power of 2 ≥ recs
}

// grow moves to a new block.
func (a *arena) grow() {
	a.leave()
	a.block = min(max(a.block*2, arenaMinBlock), arenaMaxBlock)
	b := newArenaBlock(a.block)
	b.refs.Store(int32(len(b.recs)) + 1)
	a.blk, a.recs, a.buf, a.full = b, b.recs, b.buf[:0], false
}

// next returns a zeroed inflight.
func (a *arena) next() *inflight {
	var prev *arenaBlock
	if len(a.recs) == 0 || a.full {
		if prev = a.blk; prev != nil {
			prev.refs.Add(1) // the inflight's: its bytes may be there
		}
		a.grow()
	}
	in := &a.recs[0]
	a.recs = a.recs[1:]
	*in = inflight{blk: a.blk, prev: prev}
	return in
}

// value returns an empty buffer with room for about need bytes. After
// appending to it, the caller passes the result to used. When the block's
// buffer is short, the bytes come from the heap and the next inflight starts
// a new block.
func (a *arena) value(need int) []byte {
	if a.blk == nil {
		a.grow()
	}
	if cap(a.buf)-len(a.buf) < need {
		a.full = true
		return make([]byte, 0, need)
	}
	return a.buf[len(a.buf):]
}

// used records that v, built by appending to a.value's buffer, is taken, and
// returns it with its capacity cut to its length so that nothing appends
// into the next record's bytes. If appending outgrew the buffer, v lives in
// its own allocation and the arena's buffer is left as it was.
func (a *arena) used(v []byte) []byte {
	free := a.buf[len(a.buf):]
	if len(v) > 0 && cap(v) == cap(free) && &v[:1][0] == &free[:1][0] {
		a.buf = a.buf[:len(a.buf)+len(v)]
	}
	return v[:len(v):len(v)]
}
