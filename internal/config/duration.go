package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in config files as a Go duration
// string: "10ms", "10s", "5m", "1h30m". Bare numbers are rejected in both YAML
// and JSON, because a number has no unit: 10 would silently mean 10ns.
type Duration time.Duration

var durationType = reflect.TypeFor[Duration]()

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns the Go duration string, such as "1h30m0s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a JSON string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// MarshalYAML writes d as a YAML string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalJSON reads a JSON string such as "5s". JSON null leaves d
// unchanged. Other values fail with a *json.UnmarshalTypeError, so that
// encoding/json adds the path of the offending field.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) == 0 || b[0] != '"' {
		return &json.UnmarshalTypeError{Value: describeJSON(b), Type: durationType}
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: fmt.Sprintf("string %q", s), Type: durationType}
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML reads a YAML string such as 5s or "5s". YAML null (an empty
// value) never reaches it: yaml.v3 leaves the zero value.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: cannot use %s as a duration: want a string such as 10s or 1h30m", n.Line, describeYAML(n))}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid duration: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

// describeJSON describes the non-string JSON value b the way
// json.UnmarshalTypeError.Value does: "number 10", "bool true", "object".
func describeJSON(b []byte) string {
	switch {
	case len(b) == 0:
		return "empty value"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == 't' || b[0] == 'f':
		return "bool " + string(b)
	default:
		return "number " + string(b)
	}
}

// describeYAML describes the YAML node n for an error message.
func describeYAML(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a sequence"
	case n.ShortTag() == "!!int" || n.ShortTag() == "!!float":
		return "number " + n.Value
	case n.ShortTag() == "!!bool":
		return "bool " + n.Value
	default:
		return n.ShortTag() + " " + n.Value
	}
}
