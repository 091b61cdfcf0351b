package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

func init() { register("json", newJSON) }

// jsonProc decodes the JSON text of a field:
//
//	json: {field: message, target: "", ignore_missing: false, remove_field: false}
//
// With target "" (the default) the JSON must be an object, and its keys are
// merged into the event's root: a decoded key replaces the event's value,
// except that where both are objects they merge key by key (as Filebeat's
// decode_json_fields with overwrite_keys does), so an app log's
// {"log":{"logger":"db"}} does not wipe the agent's log.file.path. A decoded
// "@timestamp" becomes the event's time: it must be an RFC 3339 string, and it
// is written back in UTC as SetTimestamp writes it, because the daily index is
// named after it; any other @timestamp is an error rather than a document
// that lands in the wrong index or is refused by Elasticsearch.
//
// With a target, any JSON value (object, array, string, number, bool, null)
// is put there, replacing what was there.
//
// remove_field deletes the source field once the JSON is decoded, before the
// result is written, so a decoded key of the same name (an app log's own
// "message") stays. A field that is missing (or null) is an error unless
// ignore_missing; a field that is not a string, or not JSON, is an error.
type jsonProc struct {
	field, target string
	ignoreMissing bool
	removeField   bool
}

func newJSON(pc ProcessorConfig) (Processor, error) {
	o := struct {
		Field         string `yaml:"field"`
		Target        string `yaml:"target"`
		IgnoreMissing bool   `yaml:"ignore_missing"`
		RemoveField   bool   `yaml:"remove_field"`
	}{Field: "message"}
	if err := pc.decode(&o); err != nil {
		return nil, err
	}
	if o.Field == "" {
		return nil, errors.New("field: must not be empty")
	}
	return &jsonProc{field: o.Field, target: o.Target, ignoreMissing: o.IgnoreMissing, removeField: o.RemoveField}, nil
}

func (p *jsonProc) Process(e *Event) error {
	text, ok, err := sourceText(e, p.field, p.ignoreMissing)
	if !ok {
		return err
	}
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("field %s: empty, not JSON", p.field)
	}
	v, err := decodeJSONString(text, 0)
	if err != nil {
		if msg := err.Error(); !strings.Contains(msg, "JSON") {
			err = errors.New("invalid JSON: " + msg)
		}
		return fmt.Errorf("field %s: %w", p.field, err)
	}
	if p.target != "" {
		if p.removeField {
			e.Delete(p.field)
		}
		return e.Put(p.target, v)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("field %s: not a JSON object but %s; set target to keep it", p.field, jsonKind(v))
	}
	if ts, ok := obj["@timestamp"]; ok {
		s, _ := ts.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("field %s: @timestamp %s: not an RFC 3339 time", p.field, quoteForError(ts))
		}
		delete(obj, "@timestamp")
		e.SetTimestamp(t)
	}
	if p.removeField {
		e.Delete(p.field)
	}
	mergeDecoded(e.Fields, obj)
	return nil
}

// mergeDecoded writes src's keys into dst: a value replaces dst's, except that
// two objects merge, recursively. src's maps are taken, not copied (they were
// just decoded).
func mergeDecoded(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeDecoded(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}
