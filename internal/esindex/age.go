package esindex

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Age is a maximum age, written in days ("30d") or as a Go duration
// ("36h", "90m"): retention.max_age and `logctl indices prune
// --older-than`. Its zero value is no age (retention off).
type Age time.Duration

// MinAge is the smallest maximum age retention and `logctl indices prune`
// accept: a smaller one is more likely a typo (30m for 30d) than a wish to
// delete the current index.
const MinAge = Age(time.Hour)

// D returns a as a time.Duration.
func (a Age) D() time.Duration { return time.Duration(a) }

// String writes whole days as "30d", other ages as a Go duration.
func (a Age) String() string {
	d := time.Duration(a)
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// ParseAge reads "30d" (whole days) or a Go duration; it refuses a
// negative age and a number without a unit.
func ParseAge(s string) (Age, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 31)
		if err != nil {
			return 0, fmt.Errorf("invalid age %q: want whole days such as 30d, or a duration such as 36h", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("invalid age %q: want whole days such as 30d, or a duration such as 36h", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid age %q: negative", s)
	}
	return Age(d), nil
}

// UnmarshalYAML reads a string such as 30d or 36h.
func (a *Age) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot use %q as an age: want a string such as 30d or 36h", n.Line, n.Value)}}
	}
	v, err := ParseAge(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*a = v
	return nil
}

// MarshalYAML writes a as String does.
func (a Age) MarshalYAML() (any, error) { return a.String(), nil }

// MarshalJSON writes a as a JSON string, as String does.
func (a Age) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

// Set and Type make *Age a command-line flag value (pflag.Value).
func (a *Age) Set(s string) error {
	v, err := ParseAge(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Type names the flag value's kind in help texts.
func (a *Age) Type() string { return "age" }
