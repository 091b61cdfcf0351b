package agent

import (
	"regexp"
	"unicode/utf8"

	"github.com/logcollect/logcollect/internal/collect"
)

// Line is one line read from a file, without its trailing newline.
type Line struct {
	Text      []byte // owned by the caller; valid only during the call
	Offset    int64  // file offset just past the line's newline
	Truncated bool   // the line was longer than max_line_bytes and was cut
	Lines     int    // file lines it stands for (a container line joined from partial records); 0 means 1
}

// Event is what gets shipped: one line, or several joined with "\n".
type Event struct {
	Text      []byte // valid until the next Add/Flush call; callers copy
	Offset    int64  // end offset of the last line in the event (what may be committed once the event is acked)
	Lines     int    // file lines the event covers, dropped ones (max_lines, maxBytes) included
	Truncated bool   // some line was cut, or the event exceeded maxBytes or max_lines
	Multiline bool   // more than one Line joined by multiline
}

// Joiner turns the lines of one file into events, joining lines as
// configured by a Multiline (Filebeat semantics). A Joiner is not safe for
// concurrent use: one goroutine (the file's reader) owns it. It has no clock:
// the owner calls Flush when Multiline.Timeout passes without a new line, and
// at the end of the file.
//
// Every line Add is given is accounted for in exactly one event (its Offset
// and Lines), even when its text is dropped, so the offsets of the emitted
// events strictly increase when the lines' offsets do.
type Joiner struct {
	re       *regexp.Regexp // nil: every line is its own event
	negate   bool
	before   bool
	maxLines int
	maxBytes int

	// The pending event.
	pending   bool
	buf       []byte // joined text, reused across events
	offset    int64
	lines     int  // file lines covered
	added     int  // Lines added (a container line joined from records is one)
	kept      int  // lines whose text is in buf
	full      bool // buf reached maxBytes: the text of later lines is dropped
	truncated bool
}

// NewJoiner returns a Joiner for m, which must have been validated by
// ParseTasks or ValidateTasks (it panics otherwise, a programming error). A
// nil m makes every line its own event. maxBytes caps the text of an event
// (normally the task's MaxLineBytes); maxBytes <= 0 means no cap.
func NewJoiner(m *collect.Multiline, maxBytes int) *Joiner {
	j := &Joiner{maxBytes: maxBytes}
	if m != nil {
		if m.Regexp() == nil {
			panic("agent: NewJoiner: Multiline was not validated")
		}
		j.re, j.negate, j.before, j.maxLines = m.Regexp(), m.Negate, m.Match == "before", m.MaxLines
	}
	return j
}

// Add adds a line and calls emit for each event it completes, 0, 1 or 2
// times. Event.Text is only valid until the next Add or Flush call.
func (j *Joiner) Add(l Line, emit func(Event)) {
	if j.re == nil {
		if j.maxBytes <= 0 || len(l.Text) <= j.maxBytes {
			// One event per line: its text is the line's, not a copy
			// (an idle file keeps no buffer, a line costs no memmove).
			emit(Event{Text: l.Text, Offset: l.Offset, Lines: max(l.Lines, 1), Truncated: l.Truncated})
			return
		}
		j.add(l)
		j.emit(emit)
		return
	}
	// A continuation line belongs to the same event as its neighbour: the
	// previous line with "after", the next one with "before".
	continuation := j.re.Match(l.Text) != j.negate
	if j.before {
		j.add(l)
		if !continuation {
			j.emit(emit)
		}
		return
	}
	if !continuation {
		j.Flush(emit)
	}
	j.add(l)
}

// Flush emits the pending event, if any: call it when the multiline timeout
// expires, at the end of a file, and before closing it.
func (j *Joiner) Flush(emit func(Event)) {
	if j.pending {
		j.emit(emit)
	}
}

// Pending reports whether lines are waiting for the event to be completed.
func (j *Joiner) Pending() bool { return j.pending }

// add adds l to the pending event, starting one if needed.
func (j *Joiner) add(l Line) {
	if !j.pending {
		j.pending = true
		j.buf = j.buf[:0]
		j.lines, j.kept, j.added = 0, 0, 0
		j.full, j.truncated = false, false
	}
	j.lines += max(l.Lines, 1)
	j.added++
	j.offset = l.Offset
	j.truncated = j.truncated || l.Truncated
	if j.full || (j.maxLines > 0 && j.kept == j.maxLines) {
		j.truncated = true
		return
	}
	sep := 0
	if j.kept > 0 {
		sep = 1
	}
	text := l.Text
	if room := j.maxBytes - len(j.buf) - sep; j.maxBytes > 0 && len(text) > room {
		text = text[:utf8Prefix(text, max(room, 0))]
		j.full, j.truncated = true, true
		if len(text) == 0 {
			return
		}
	}
	if sep == 1 {
		j.buf = append(j.buf, '\n')
	}
	j.buf = append(j.buf, text...)
	j.kept++
}

func (j *Joiner) emit(emit func(Event)) {
	j.pending = false
	emit(Event{
		Text:      j.buf,
		Offset:    j.offset,
		Lines:     j.lines,
		Truncated: j.truncated,
		Multiline: j.added > 1,
	})
}

// utf8Prefix returns the length of the longest prefix of p, at most n bytes,
// that does not end in the middle of a valid UTF-8 sequence.
func utf8Prefix(p []byte, n int) int {
	if n >= len(p) {
		return len(p)
	}
	for i := n - 1; i >= 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			if r, size := utf8.DecodeRune(p[i:]); r != utf8.RuneError && i+size > n {
				return i
			}
			return n
		}
	}
	return n
}
