package agent

import (
	"bufio"
	"errors"
	"io"
)

// lineReader reads newline-terminated lines from r, which is positioned at
// offset. Lines longer than max are cut to max bytes and flagged; the rest of
// such a line is read and discarded, so memory stays bounded by max.
type lineReader struct {
	br     *bufio.Reader
	max    int
	offset int64  // offset just past the last complete line returned
	buf    []byte // the current line (possibly partial)
	extra  int64  // bytes of the current line beyond max, discarded
}

func newLineReader(r io.Reader, offset int64, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: max, offset: offset}
}

// next returns the next complete line (without "\n" or "\r\n"), the offset
// just past it, and whether it was truncated. At the end of the data it
// returns io.EOF and keeps the partial line for a later call or for partial.
// The returned slice is valid until the next call.
func (lr *lineReader) next() (line []byte, end int64, truncated bool, err error) {
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
