package agent

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// readBufferSize is the size of the buffer a file is read with: large enough
// that a backlog costs one read system call per few hundred lines.
const readBufferSize = 64 << 10

// lineBufferKeep is how much of its line buffer a lineReader keeps between
// read passes for a partial line: a partial line longer than this is kept in
// a buffer of its own size. Without a partial line, it keeps none.
const lineBufferKeep = 1 << 10

// readBuffers lends the read buffers. A lineReader holds one only during a
// read pass (see lineReader.release), so a file that is not being read holds
// none; readBuffersInUse counts those lent, for tests and the profile.
var (
	readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

	readBuffersInUse atomic.Int64

	// readPassCount counts read passes, for the agent's idle check (see
	// Agent.returnMemoryWhenIdle).
	readPassCount atomic.Uint64
)

// lineReader reads newline-terminated lines from r, which is positioned at
// offset. Lines longer than max are cut to max bytes and flagged; the rest of
// such a line is read and discarded, so memory stays bounded by max.
//
// It takes a read buffer from readBuffers at its first read and gives it
// back in release, which the harvester calls at the end of each read pass;
// between passes it keeps only the partial last line, in a small buffer.
type lineReader struct {
	r      io.Reader
	br     *bufio.Reader // the read buffer, nil between passes
	max    int
	offset int64  // offset just past the last complete line returned
	buf    []byte // the current line (possibly partial)
	extra  int64  // bytes of the current line beyond max, discarded
}

func newLineReader(r io.Reader, offset int64, max int) *lineReader {
	return &lineReader{r: r, max: max, offset: offset}
}

// next returns the next complete line (without "\n" or "\r\n"), the offset
// just past it, and whether it was truncated. At the end of the data it
// returns io.EOF and keeps the partial line for a later call or for partial.
// The returned slice is valid until the next call.
func (lr *lineReader) next() (line []byte, end int64, truncated bool, err error) {
	if lr.br == nil {
		lr.br = readBuffers.Get().(*bufio.Reader)
		lr.br.Reset(lr.r)
		readBuffersInUse.Add(1)
	}
	for {
		chunk, err := lr.br.ReadSlice('\n')
		complete := err == nil
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
			return nil, 0, false, err
		}
		data := chunk
		if complete {
			data = chunk[:len(chunk)-1]
		}
		if room := lr.max - len(lr.buf); len(data) > room {
			lr.extra += int64(len(chunk) - room)
			chunk = chunk[:room]
		}
		lr.buf = append(lr.buf, chunk...)
		if complete {
			return lr.take()
		}
		if errors.Is(err, io.EOF) {
			return nil, 0, false, io.EOF
		}
	}
}

// release gives the read buffer back, at the end of a read pass. Bytes read
// into it and not yet returned by next are given back to r when it can seek
// (its offset moves back over them), and the buffer is kept otherwise. The
// line buffer is dropped when there is no partial line, and replaced by one
// of the partial line's size when a long line grew it. The next call to next
// takes a buffer again.
func (lr *lineReader) release() error {
	if lr.br == nil {
		return nil
	}
	if n := lr.br.Buffered(); n > 0 {
		s, ok := lr.r.(io.Seeker)
		if !ok {
			return nil
		}
		if _, err := s.Seek(-int64(n), io.SeekCurrent); err != nil {
			return err
		}
	}
	lr.br.Reset(nil)
	readBuffers.Put(lr.br)
	readBuffersInUse.Add(-1)
	lr.br = nil
	switch {
	case len(lr.buf) == 0:
		lr.buf = nil // no partial line: a file between passes holds no line buffer
	case cap(lr.buf) > lineBufferKeep:
		lr.buf = append([]byte(nil), lr.buf...)
	}
	return nil
}

// partial returns the unterminated last line, for a file that will not grow
// again (rotated away or deleted).
func (lr *lineReader) partial() (line []byte, end int64, truncated bool, ok bool) {
	if len(lr.buf) == 0 && lr.extra == 0 {
		return nil, 0, false, false
	}
	lr.buf = append(lr.buf, '\n') // take strips it
	line, end, truncated, _ = lr.take()
	return line, end - 1, truncated, true
}

func (lr *lineReader) take() ([]byte, int64, bool, error) {
	n := int64(len(lr.buf)) + lr.extra
	truncated := lr.extra > 0
	line := lr.buf
	if len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
	}
	lr.offset += n
	lr.buf = lr.buf[:0]
	lr.extra = 0
	return line, lr.offset, truncated, nil
}
