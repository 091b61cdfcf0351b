package pipeline

import (
	"fmt"
	"unicode/utf8"
)

// Helpers for the processors that read one field of the event and name it,
// and its value, in their errors.

// lookupString returns the string at path, and whether there is one: a
// value that is absent or null is missing (present false, no error), so
// that ignore_missing covers both; any other value that is not a string is
// an error naming the field and its JSON type.
func lookupString(e *Event, path string) (s string, present bool, err error) {
	v, ok := e.Get(path)
	if !ok || v == nil {
		return "", false, nil
	}
	s, ok = v.(string)
	if !ok {
		return "", true, fmt.Errorf("field %s is %s, not a string", path, jsonKind(v))
	}
	return s, true, nil
}

// missingError is the error of a processor whose field at path is missing
// or null, for processors without ignore_missing.
func missingError(e *Event, path string) error {
	if _, ok := e.Get(path); ok {
		return fmt.Errorf("field %s is null", path)
	}
	return fmt.Errorf("field %s not found", path)
}

// errorValueLen is how much of a string value an error quotes: enough to
// recognize it, not a whole line in every error.message.
const errorValueLen = 64

// quoteForError formats a value for an error message: strings quoted and
// cut at errorValueLen bytes (on a character boundary), objects and arrays
// by their kind only.
func quoteForError(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > errorValueLen {
			cut := errorValueLen
			for cut > 0 && !utf8.RuneStart(v[cut]) {
				cut--
			}
			return fmt.Sprintf("%q…", v[:cut])
		}
		return fmt.Sprintf("%q", v)
	case nil:
		return "null"
	case map[string]any, []any:
		return jsonKind(v)
	}
	return fmt.Sprint(v)
}
