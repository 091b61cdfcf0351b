package agent

import (
	"testing"

	"github.com/stretchr/testify/require"
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
		v := append(a.value(300), make([]byte, 100+i%200)...)
		in := a.next()
		in.rec.Value = a.used(v)
		require.NotNil(t, in.blk)
		blocks[in.blk] = true
		ins = append(ins, in)
		vals = append(vals, in.rec.Value)
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
	last := a.blk
	for _, in := range ins[:len(ins)-1] {
		in.blk.done()
	}
	require.Positive(t, last.refs.Load(), "the current block is still the arena's")
	for b := range blocks {
		if b != last {
			require.Zero(t, b.refs.Load())
		}
	}
	ins[len(ins)-1].blk.done()
	require.EqualValues(t, 1+len(a.recs), last.refs.Load())
	a.reset()
	require.Zero(t, last.refs.Load())
}
