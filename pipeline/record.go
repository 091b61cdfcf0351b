package pipeline

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// The event of a record, as logtransfer builds it before a pipeline runs,
// and the document it indexes after. logctl's `pipeline test` calls the same
// functions, so that what it prints is what logtransfer indexes.

// IngestedField holds the time the agent read the line, kept when a
// pipeline sets @timestamp to the time the line itself names.
const IngestedField = "event.ingested"

// recordRoom is the room the event of a record is made with (its root
// map's size hint): logagent's record has 4 or 5 fields, event.ingested
// follows, then a preset's 5 to 8 and logtransfer's kafka field.
const recordRoom = 14

// RecordEvent returns the event of a Kafka record's value: a JSON object
// (logagent's record) is decoded as it is (DecodeObject); any other value —
// plain text, invalid JSON, JSON that is not an object — becomes
// {"message": value, "@timestamp": received}, as logtransfer indexes such a
// record without a pipeline. received is the record's time (its Kafka
// timestamp).
//
// Before a pipeline runs, event.ingested is set to the record's @timestamp,
// the time the agent read the line (received when @timestamp is missing or
// not an RFC 3339 time, and then @timestamp is set to received too when it
// is missing): a pipeline that takes @timestamp from the line keeps the read
// time there. RecordEvent also returns that time.
func RecordEvent(value []byte, received time.Time) (e *Event, read time.Time) {
	var fields map[string]any
	if v := bytes.TrimSpace(value); len(v) > 0 && v[0] == '{' {
		if obj, err := decodeJSONString(string(v), recordRoom); err == nil {
			fields, _ = obj.(map[string]any)
		}
	}
	if fields == nil {
		// Invalid UTF-8 becomes U+FFFD, as in logtransfer's documents
		// without a pipeline.
		fields = map[string]any{"message": strings.ToValidUTF8(string(value), "\uFFFD")}
	}
	e = NewEvent(fields)
	ingested, ok := e.Fields["@timestamp"].(string)
	if ok {
		var err error
		read, err = time.Parse(time.RFC3339Nano, ingested)
		ok = err == nil
	}
	if !ok {
		if _, exists := e.Fields["@timestamp"]; !exists {
			e.SetTimestamp(received)
		}
		read = received
		ingested = received.UTC().Format(time.RFC3339Nano)
	}
	_ = e.Put(IngestedField, ingested) // fails only when the record's "event" is not an object: left as it is
	return e, read
}

// RunRecord builds the event of a record's value (RecordEvent) and runs p on
// it: the one function logtransfer and `logctl pipeline test` share. The
// event is dropped (e.Dropped) when a drop step took it; on a
// *ProcessorError it is the event as it came in, flagged (see Run), and is
// indexed all the same. read is the time the agent read the line (see
// RecordEvent).
func RunRecord(p *Pipeline, value []byte, received time.Time) (e *Event, read time.Time, err error) {
	e, read = RecordEvent(value, received)
	// On a failure the event is built again from the record rather than
	// copied before the steps run: failures are rare.
	err = p.run(e, nil, func() map[string]any {
		again, _ := RecordEvent(value, received)
		return again.Fields
	})
	return e, read, err
}

// Timestamp returns the time in @timestamp (RFC 3339), which names the daily
// index of the event; ok is false when it is missing or not such a time.
func (e *Event) Timestamp() (t time.Time, ok bool) {
	s, ok := e.Fields["@timestamp"].(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// Document is a record after its pipeline: what logtransfer indexes, and
// what `logctl pipeline test` prints.
type Document struct {
	// Body is the document, one line of JSON; nil when Dropped.
	Body []byte
	// Dropped is true when a drop step took the event: there is no
	// document, on purpose.
	Dropped bool
	// Time is @timestamp after the pipeline, which names the daily index;
	// Read when that is not an RFC 3339 time.
	Time time.Time
	// Read is when the agent read the line (see RecordEvent).
	Read time.Time
	// Err is why the pipeline failed, a *ProcessorError or an
	// *EncodeError; Body is then the event as it came in, flagged.
	Err error
}

// EncodeError is a document a pipeline made that JSON cannot hold (a NaN a
// processor computed, say).
type EncodeError struct {
	Pipeline string
	Err      error
}

// EncodeStep is the processor name of an EncodeError in metrics.
const EncodeStep = "encode"

func (e *EncodeError) Error() string {
	return fmt.Sprintf("pipeline %s: %s the document: %v", e.Pipeline, EncodeStep, e.Err)
}

func (e *EncodeError) Unwrap() error { return e.Err }

// BuildDocument runs p on a record's value (RunRecord) and encodes the
// event it leaves (AppendJSON) after set, when not nil, has added the
// caller's fields (logtransfer's kafka field). A document that cannot be
// encoded is replaced by the event as it came in, flagged with the
// *EncodeError, so that no record is lost. The body is appended to dst.
func BuildDocument(p *Pipeline, value []byte, received time.Time, set func(*Event), dst []byte) Document {
	e, read, err := RunRecord(p, value, received)
	d := Document{Read: read, Err: err}
	if e.Dropped() {
		d.Dropped = true
		return d
	}
	if set != nil {
		set(e)
	}
	body, encErr := e.AppendJSON(dst)
	if encErr != nil {
		d.Err = &EncodeError{Pipeline: p.name, Err: encErr}
		e, _ = RecordEvent(value, received)
		e.Flag(d.Err)
		if set != nil {
			set(e)
		}
		if body, encErr = e.AppendJSON(dst); encErr != nil {
			// A decoded record always encodes (its numbers are finite or
			// json.Number): set added what JSON cannot hold. The value as
			// a message, then; strings always encode.
			e = NewEvent(map[string]any{"message": strings.ToValidUTF8(string(value), "\uFFFD")})
			e.SetTimestamp(read)
			e.Flag(d.Err)
			body, _ = e.AppendJSON(dst)
		}
	}
	d.Body = body
	d.Time = read
	if ts, ok := e.Timestamp(); ok {
		d.Time = ts
	}
	return d
}

// Flag marks e as failed, as Run does when a step fails: error.message is
// err's text and the tag _pipeline_error is added. For failures after the
// pipeline ran, such as a document that cannot be encoded.
func (e *Event) Flag(err error) { flagFailure(e, err) }
