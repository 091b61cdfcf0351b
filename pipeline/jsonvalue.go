package pipeline

import (
	"fmt"
)

// DecodeJSON decodes a JSON value as events hold values: objects as
// map[string]any, arrays as []any, integers as int64 (exactly, where
// encoding/json would round them to float64), other numbers as float64
// (as the json.Number written when beyond float64's range).
// Trailing data after the value is an error.
func DecodeJSON(data []byte) (any, error) { return decodeJSON(data) }

// DecodeObject is DecodeJSON for a JSON object.
func DecodeObject(data []byte) (map[string]any, error) {
	v, err := DecodeJSON(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a JSON object but %s", jsonKind(v))
	}
	return m, nil
}

// jsonKind names the JSON type of a decoded value, for errors.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "a number"
}
