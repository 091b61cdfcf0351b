package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The cri preset parses the lines containerd and CRI-O write for the
// kubelet under /var/log/pods (the CRI's log format, kubelet's
// pkg/kubelet/kuberuntime/logs):
//
//	2026-12-07T10:00:00.123456789Z stdout F GET /healthz 200
//
// that is "<RFC 3339 time> <stream> <tags> <line>", the tags being P
// (partial) or F (full), with room for more after a ':'. It sets stream
// (stdout or stderr), @timestamp, and message to the container's line:
//
//	cri: {field: message}
//
// field is the field holding the record (default message); the container's
// line always goes to message.
//
// A runtime splits a line longer than its buffer (16 KiB by default) into
// P records and a last F one. Joining them needs the records before, which
// a pipeline, seeing one event at a time on any of logtransfer's consumers,
// does not have: a P record is kept as it is, its part of the line in
// message, with log.flags: [partial] so that it can be found. Joining is
// for the agent, which reads a file's records in order (as Filebeat's
// container parser does): logagent joins them when the task sets
// container_format: cri, and ships one F record with the first record's
// time. The flag remains for what is left over: tasks without
// container_format, and a P record the agent shipped alone (the stream
// changed before its F record, or none came within 5s).
type criProc struct{ field string }

func init() { register("cri", newCRI) }

func newCRI(pc ProcessorConfig) (Processor, error) {
	field, err := presetField(pc, "message")
	if err != nil {
		return nil, err
	}
	return &criProc{field: field}, nil
}

var (
	errCRIShape  = errors.New("expected <time> <stdout|stderr> <P|F> <line>")
	errCRIStream = errors.New("stream: expected stdout or stderr")
	errCRITag    = errors.New("tag: expected P or F")
)

// criLine is a CRI record, parsed.
type criLine struct {
	time    time.Time
	stream  string
	partial bool
	message string
}

func parseCRI(line string) (criLine, error) {
	var l criLine
	ts, s, ok := strings.Cut(line, " ")
	if !ok {
		return l, errCRIShape
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return l, fmt.Errorf("time %q: not RFC 3339", ts)
	}
	l.time = t
	if l.stream, s, ok = strings.Cut(s, " "); !ok {
		return l, errCRIShape
	}
	if l.stream != "stdout" && l.stream != "stderr" {
		return l, errCRIStream
	}
	// The line may be empty, and then so may be the space before it.
	tags, msg, _ := strings.Cut(s, " ")
	tag, _, _ := strings.Cut(tags, ":")
	switch tag {
	case "P":
		l.partial = true
	case "F":
	default:
		return l, errCRITag
	}
	l.message = msg
	return l, nil
}

func (p *criProc) Process(e *Event) error {
	line, err := presetLine(e, p.field)
	if err != nil {
		return err
	}
	l, err := parseCRI(line)
	if err != nil {
		return err
	}
	if err := e.Put("stream", l.stream); err != nil {
		return err
	}
	if l.partial {
		if err := addLogFlag(e, PartialFlag); err != nil {
			return err
		}
	}
	if err := e.Put("message", l.message); err != nil {
		return err
	}
	e.SetTimestamp(l.time)
	return nil
}
