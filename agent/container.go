package agent

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/logcollect/logcollect/internal/record"
)

// containerFlushTimeout is how long a partial container line waits at the
// end of its file for its next part before it is shipped as it is: as long
// as a multiline event by default, so that a runtime writing a long line
// in several records is not cut between them.
const containerFlushTimeout = 5 * time.Second

// containerJoiner joins the partial records a container runtime splits a
// long line into (a task's container_format), as Filebeat's container
// parser does, before multiline and the line filters:
//
//   - cri (containerd, CRI-O): "<time> <stream> <P|F>[:tags] <msg>". P
//     records of a stream and the F record that follows are one line: the
//     first record's prefix, its tag made F, then every record's msg.
//   - docker (json-file): {"log":"...","stream":"...","time":"..."}. Records
//     whose log does not end in "\n" and the one that does are one line: a
//     record with the first one's stream, time and attrs, and every log.
//
// The joined line is in the runtime's format, so logtransfer's cri and
// docker processors parse it as a whole line with the first record's time.
// Its Offset is the last record's, and the harvester gives it the first
// record's start (the previous event's end), so its id is stable on re-read
// and the file offset is committed only once the whole line is acked.
//
// Streams: CRI and Docker interleave stdout and stderr records in one file.
// A record of the other stream, or one that does not parse, ends the
// pending join: what was joined so far is passed on as a partial record (P
// tag; log without "\n"), which logtransfer flags partial, and the record
// is then handled on its own. One pending join per stream would instead
// pass lines on out of file order, and the offsets of an event would no
// longer be one range of the file (the ack rule commits an event's end
// offset, which would skip the other stream's pending records).
//
// Records that need no join are passed on as they are, without copying or
// allocating; a join reuses the joiner's buffer (docker decodes its parts
// with encoding/json, which allocates: parts are rare). A containerJoiner
// is owned by one harvester goroutine.
type containerJoiner struct {
	docker   bool
	maxBytes int // cap of a joined line; <= 0: none

	pending   bool
	buf       []byte // cri: the joined line; docker: the joined log
	out       []byte // docker: the joined record
	offset    int64  // end offset of the last record joined
	records   int    // records joined: the Line's Lines
	truncated bool   // a record was cut, or buf reached maxBytes
	full      bool   // buf reached maxBytes: later text is dropped
	stream    []byte // stream of the pending join
	tagPos    int    // cri: index in buf of the P tag
	time      []byte // docker: the first record's time
	attrs     []byte // docker: the first record's attrs (raw JSON), if any
}

// newContainerJoiner returns the joiner for a task's container_format, or
// nil when it is empty (then lines go straight to the multiline Joiner).
func newContainerJoiner(format string, maxBytes int) *containerJoiner {
	switch format {
	case "":
		return nil
	case "cri":
		return &containerJoiner{maxBytes: maxBytes}
	case "docker":
		return &containerJoiner{docker: true, maxBytes: maxBytes}
	}
	panic("agent: newContainerJoiner: container_format " + format + " was not validated")
}

// Pending reports whether partial records wait for the rest of their line.
func (c *containerJoiner) Pending() bool { return c.pending }

// Add takes the next record of the file and calls next for each line it
// completes, 0, 1 or 2 times. The Line's Text is valid only during the call.
func (c *containerJoiner) Add(l Line, next func(Line)) {
	if c.docker {
		c.addDocker(l, next)
		return
	}
	c.addCRI(l, next)
}

// Flush passes on the pending join, if any, as a partial record: call it
// when containerFlushTimeout passes without a new record, and at the end
// of a file that will not grow.
func (c *containerJoiner) Flush(next func(Line)) {
	if !c.pending {
		return
	}
	c.pending = false
	text := c.buf
	if c.docker {
		text = c.encodeDocker(false)
	}
	next(Line{Text: text, Offset: c.offset, Truncated: c.truncated, Lines: c.records})
}

// parseCRI splits a CRI record: the index of its tag, its stream, whether
// it is partial (tag P) and its message. ok is false when l is not a CRI
// record (the time is not checked: logtransfer does).
func parseCRI(l []byte) (tagPos int, stream []byte, partial bool, msg []byte, ok bool) {
	sp := bytes.IndexByte(l, ' ')
	if sp <= 0 {
		return 0, nil, false, nil, false
	}
	rest := l[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return 0, nil, false, nil, false
	}
	stream = rest[:sp2]
	if string(stream) != "stdout" && string(stream) != "stderr" {
		return 0, nil, false, nil, false
	}
	tagPos = sp + 1 + sp2 + 1
	tags := l[tagPos:]
	end := bytes.IndexByte(tags, ' ')
	if end < 0 {
		end = len(tags)
	} else {
		msg = tags[end+1:]
	}
	tags = tags[:end]
	if len(tags) == 0 || (tags[0] != 'P' && tags[0] != 'F') || (len(tags) > 1 && tags[1] != ':') {
		return 0, nil, false, nil, false
	}
	return tagPos, stream, tags[0] == 'P', msg, true
}

func (c *containerJoiner) addCRI(l Line, next func(Line)) {
	tagPos, stream, partial, msg, ok := parseCRI(l.Text)
	if c.pending && (!ok || !bytes.Equal(stream, c.stream)) {
		c.Flush(next)
	}
	switch {
	case !ok || (!partial && !c.pending):
		next(l) // a whole line, or not a CRI record: as it is
		return
	case !c.pending:
		// The first part: its prefix up to the message.
		c.start()
		prefixEnd := len(l.Text) - len(msg)
		if msg == nil {
			prefixEnd = len(l.Text)
		}
		c.tagPos = tagPos
		c.appendText(l.Text[:prefixEnd])
		if msg == nil && !c.full {
			c.appendText([]byte{' '})
		}
		c.stream = append(c.stream[:0], stream...)
	}
	c.appendText(msg)
	c.offset = l.Offset
	c.records++
	c.truncated = c.truncated || l.Truncated
	if partial {
		return
	}
	c.pending = false
	if c.tagPos < len(c.buf) {
		c.buf[c.tagPos] = 'F'
	}
	next(Line{Text: c.buf, Offset: c.offset, Truncated: c.truncated, Lines: c.records})
}

// dockerRecord is a json-file record, decoded for a join.
type dockerRecord struct {
	Log    *string         `json:"log"`
	Stream string          `json:"stream"`
	Time   string          `json:"time"`
	Attrs  json.RawMessage `json:"attrs"`
}

func (c *containerJoiner) addDocker(l Line, next func(Line)) {
	if !c.pending && dockerFull(l.Text) {
		next(l) // the common case: a whole line, not decoded
		return
	}
	var rec dockerRecord
	ok := json.Unmarshal(l.Text, &rec) == nil && rec.Log != nil
	if c.pending && (!ok || rec.Stream != string(c.stream)) {
		c.Flush(next)
	}
	partial := ok && !dockerEndsLine(*rec.Log)
	if !c.pending && !partial {
		next(l)
		return
	}
	if !c.pending {
		c.start()
		c.stream = append(c.stream[:0], rec.Stream...)
		c.time = append(c.time[:0], rec.Time...)
		c.attrs = append(c.attrs[:0], rec.Attrs...)
	}
	c.appendText([]byte(*rec.Log))
	c.offset = l.Offset
	c.records++
	c.truncated = c.truncated || l.Truncated
	if partial {
		return
	}
	c.pending = false
	next(Line{Text: c.encodeDocker(true), Offset: c.offset, Truncated: c.truncated, Lines: c.records})
}

func dockerEndsLine(log string) bool { return len(log) > 0 && log[len(log)-1] == '\n' }

// dockerFull reports, without decoding, whether l is a json-file record as
// Docker writes it ({"log":"..." first) whose log ends in an escaped newline.
// false means "decode to know".
func dockerFull(l []byte) bool {
	const head = `{"log":"`
	if !bytes.HasPrefix(l, []byte(head)) {
		return false
	}
	lastEsc := -1
	for i := len(head); i < len(l); i++ {
		switch l[i] {
		case '\\':
			lastEsc = i
			i++
		case '"':
			return lastEsc == i-2 && l[i-1] == 'n'
		}
	}
	return false
}

// encodeDocker writes the pending join as a json-file record, its log cut
// so that the record fits in maxBytes (keeping a final newline).
func (c *containerJoiner) encodeDocker(final bool) []byte {
	body, nl := c.buf, final && len(c.buf) > 0 && c.buf[len(c.buf)-1] == '\n'
	if nl {
		body = body[:len(body)-1]
	}
	for {
		c.out = append(c.out[:0], `{"log":`...)
		if nl {
			c.out = record.AppendJSONString(c.out, append(body, '\n')) // body is a prefix of buf: the newline is already there or overwrites dropped text
		} else {
			c.out = record.AppendJSONString(c.out, body)
		}
		c.out = append(c.out, `,"stream":`...)
		c.out = record.AppendJSONString(c.out, c.stream)
		c.out = append(c.out, `,"time":`...)
		c.out = record.AppendJSONString(c.out, c.time)
		if len(c.attrs) > 0 {
			c.out = append(append(c.out, `,"attrs":`...), c.attrs...)
		}
		c.out = append(c.out, '}')
		excess := len(c.out) - c.maxBytes
		if c.maxBytes <= 0 || excess <= 0 || len(body) == 0 {
			return c.out
		}
		body = body[:utf8Prefix(body, max(len(body)-excess, 0))]
		c.truncated = true
	}
}

// start begins a join.
func (c *containerJoiner) start() {
	c.pending = true
	c.buf = c.buf[:0]
	c.truncated, c.full = false, false
	c.records = 0
}

// appendText appends p to the join, up to maxBytes.
func (c *containerJoiner) appendText(p []byte) {
	if c.full {
		c.truncated = c.truncated || len(p) > 0
		return
	}
	if room := c.maxBytes - len(c.buf); c.maxBytes > 0 && len(p) > room {
		p = p[:utf8Prefix(p, max(room, 0))]
		c.full, c.truncated = true, true
	}
	c.buf = append(c.buf, p...)
}
