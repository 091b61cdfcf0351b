package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DecodeJSON decodes a JSON value as events hold values: objects as
// map[string]any, arrays as []any, integers as int64 (exactly, where
// encoding/json would round them to float64), other numbers as float64.
// Trailing data after the value, and a number too large for a float64, are
// errors.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: data after the value")
	}
	return numbers(v)
}

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

// numbers replaces the json.Numbers in v, in place where v is a map or a
// slice. A number beyond float64's range (1e400) is an error: as ±Inf it
// could not be encoded again, and no other value would be the number.
func numbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, err := v.Float64()
		if err != nil { // valid JSON: only out of range
			return nil, fmt.Errorf("JSON number %.64s is beyond the range of a float64", v)
		}
		return f, nil
	case map[string]any:
		for k, x := range v {
			n, err := numbers(x)
			if err != nil {
				return nil, err
			}
			v[k] = n
		}
	case []any:
		for i, x := range v {
			n, err := numbers(x)
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
	}
	return v, nil
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
