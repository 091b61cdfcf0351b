package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/collect"
)

// TestArenaRecycles checks the reference counts that decide when an arena
// block may be reused: a block is released once the arena has moved on and
// every inflight it handed out is done, not before, and values never share
// bytes.
func TestArenaRecycles(t *testing.T) {
	var a arena
	var ins []*inflight
	var vals [][]byte
	blocks := map[*arenaBlock]bool{}
	for i := range 1000 {
		// as the harvester does: the value, its inflight, then more
		// bytes of the record (the event id); lines of up to 900 bytes
		// run a block's buffer short before its inflights
		v := append(a.value(300), make([]byte, 100+i%800)...)
		in := a.next()
		in.rec.Value = a.used(v)
		id := a.used(append(a.value(40), make([]byte, 1+i%30)...))
		require.NotNil(t, in.blk)
		blocks[in.blk] = true
		if in.prev != nil {
			blocks[in.prev] = true
		}
		ins = append(ins, in)
		vals = append(vals, in.rec.Value, id)
	}
	for i, v := range vals { // values stay apart
		for j := range v {
			v[j] = byte(i)
		}
	}
	for i, v := range vals {
		for _, b := range v {
			require.Equal(t, byte(i), b)
		}
	}
	// every byte of a record is in a block its inflight holds, or on the heap
	inBlock := func(v []byte, b *arenaBlock) bool {
		if b == nil || len(v) == 0 {
			return false
		}
		p, lo, hi := &v[0], &b.buf[0], &b.buf[len(b.buf)-1]
		return uintptr(unsafe.Pointer(p)) >= uintptr(unsafe.Pointer(lo)) && uintptr(unsafe.Pointer(p)) <= uintptr(unsafe.Pointer(hi))
	}
	for i, in := range ins {
		for _, v := range vals[2*i : 2*i+2] {
			held := inBlock(v, in.blk) || inBlock(v, in.prev)
			other := false
			for b := range blocks {
				if b != in.blk && b != in.prev && inBlock(v, b) {
					other = true
				}
			}
			require.False(t, other && !held, "record %d: bytes in a block its inflight does not hold", i)
		}
	}
	last := a.blk
	for _, in := range ins[:len(ins)-1] {
		in.prev.done()
		in.blk.done()
	}
	require.Positive(t, last.refs.Load(), "the current block is still the arena's")
	for b := range blocks {
		if b != last {
			require.Zero(t, b.refs.Load())
		}
	}
	ins[len(ins)-1].prev.done()
	ins[len(ins)-1].blk.done()
	require.EqualValues(t, 1+len(a.recs), last.refs.Load())
	a.reset()
	require.Zero(t, last.refs.Load())
}

// TestArenaReuseAfterNewTopic ships a file's first lines to a topic the
// client does not know yet, then more lines in short passes, each waited for,
// so that the blocks of the first passes are recycled and written again.
// kgo's goroutine that waits for a new topic's metadata calls the first
// record's context (its inflight) after that record may have been
// acknowledged: under -race, an inflight whose context methods read its
// fields fails here (the race that once had small blocks left unpooled).
// Without -race, the records must still arrive whole, once, in order.
func TestArenaReuseAfterNewTopic(t *testing.T) {
	brokers := newFakeKafka(t)
	dir := t.TempDir()
	cfg := testConfig(t, brokers, t.TempDir())
	const files, rounds, per = 8, 30, 3
	var tasks []collect.Task
	for i := range files {
		path := filepath.Join(dir, fmt.Sprintf("app-%d.log", i))
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		tasks = append(tasks, collect.Task{Path: path, Topic: fmt.Sprintf("new-%d", i), StartPosition: "beginning"})
	}
	ra := startAgent(t, cfg, nil, tasks...)
	sent := func() float64 {
		n := 0.0
		for _, task := range tasks {
			n += testutil.ToFloat64(ra.m.RecordsSent.WithLabelValues(task.Path, task.Topic))
		}
		return n
	}
	for r := range rounds {
		for _, task := range tasks {
			appendLines(t, task.Path, r*per, (r+1)*per)
		}
		want := float64((r + 1) * per * files)
		require.Eventually(t, func() bool { return sent() == want }, time.Minute, 5*time.Millisecond, "round %d acknowledged", r)
	}
	for _, task := range tasks {
		recs := consumeN(t, brokers, task.Topic, rounds*per, time.Minute)
		require.Equal(t, wantLines(task.Path, 0, rounds*per), messagesByFile(t, recs)[task.Path], task.Topic)
	}
}
