package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Errors collects validation errors, each naming a field by its path in the
// config file, so that Validate can report every problem at once. The zero
// value is ready to use; it is not safe for concurrent use.
type Errors []error

// Addf adds an error about a field: `field: message`.
func (e *Errors) Addf(field, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// BadValue adds an error about a field's value: `field "value": message`.
// The value is shown as ShowValue shows it: a string quoted, a URL without
// its password, and a secret not at all: `kafka.sasl.password (secret value
// not shown): message`. Others are printed with %v. The message itself must
// not hold the value.
func (e *Errors) BadValue(field string, value any, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s %v: %s", field, ShowValue(field, value), fmt.Sprintf(format, args...)))
}

// NonNegative adds `field -1s: must be >= 0` when d is negative.
func (e *Errors) NonNegative(field string, d Duration) {
	if d < 0 {
		e.BadValue(field, d, "must be >= 0")
	}
}

// Positive adds `field -1: must be > 0` to e when v is negative. Zero is not
// checked: a field left at zero gets its default before validation.
func Positive[T ~int | ~int64](e *Errors, field string, v T) {
	if v < 0 {
		e.BadValue(field, v, "must be > 0")
	}
}

// Err returns the collected errors joined by errors.Join, or nil if there
// are none.
func (e Errors) Err() error { return errors.Join(e...) }

// SetDefault sets *v to def when *v is the zero value.
func SetDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// CheckHostPort checks a host:port address. For a listen address the host
// may be empty (all interfaces) and the port 0 (any free port).
func CheckHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if ae, ok := errors.AsType[*net.AddrError](err); ok {
			return fmt.Errorf("must be host:port: %s", ae.Err)
		}
		return fmt.Errorf("must be host:port: %w", err)
	}
	if host == "" && !listen {
		return errors.New("must be host:port: missing host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		return fmt.Errorf("must be host:port: invalid port %q", port)
	}
	return nil
}
