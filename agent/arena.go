package agent

import (
	"sync"
	"sync/atomic"
)

// arena hands out inflights and record value buffers in blocks, so shipping
// a backlog costs no allocation per line. Blocks grow from arenaMinBlock
// while a read pass goes on, and reset drops them when it ends, so an idle
// file holds no block: a trickle of lines gets small blocks, a backlog large
// ones. A full-size block goes back to a pool once the arena has moved on
// and Kafka has acknowledged (or failed) all its records, so a backlog reuses
// the same few blocks instead of allocating (and the GC scanning) one per
// 256 lines.
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
)

var arenaPool = sync.Pool{New: func() any {
	return &arenaBlock{recs: make([]inflight, arenaMaxBlock), buf: make([]byte, arenaMaxBlock*arenaBufPer)}
}}

// done drops one reference to b (an inflight's), and recycles b when it was
// the last. A nil b (an inflight not from an arena) is left alone.
func (b *arenaBlock) done() { b.drop(1) }

func (b *arenaBlock) drop(n int32) {
	if b == nil || b.refs.Add(-n) != 0 {
		return
	}
	if len(b.recs) == arenaMaxBlock {
		clear(b.recs) // drop what the records pointed to
		arenaPool.Put(b)
	}
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

// grow moves to a new block.
func (a *arena) grow() {
	a.leave()
	a.block = min(max(a.block*2, arenaMinBlock), arenaMaxBlock)
	var b *arenaBlock
	if a.block == arenaMaxBlock {
		b = arenaPool.Get().(*arenaBlock)
	} else {
		b = &arenaBlock{recs: make([]inflight, a.block), buf: make([]byte, a.block*arenaBufPer)}
	}
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
