package pipeline

import (
	"fmt"
	"unicode/utf8"
)

// Helpers for the processors that read one field of the event and name it,
// and its value, in their errors.

// sourceText returns the string a parser reads at path. ok is false when
// there is nothing to parse: the field is missing or null (an error naming
// it, or none with ignoreMissing), or it holds another type (an error
// naming the field and the type).
func sourceText(e *Event, path string, ignoreMissing bool) (s string, ok bool, err error) {
	v, _ := e.Get(path)
	switch v := v.(type) {
	case string:
		return v, true, nil
	case nil:
		if ignoreMissing {
			return "", false, nil
		}
		return "", false, missingError(e, path)
	}
	return "", false, fmt.Errorf("field %s is %s, not a string", path, jsonKind(v))
}

// missingError is the error of a processor whose field at path is missing
// or null, when it does not ignore_missing.
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
