package sysmon

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Point is one InfluxDB point. Tags and fields are kept sorted by key (as InfluxDB stores
// them), so the line protocol of a point is canonical.
type Point struct {
	Measurement string
	Tags        []Tag
	Fields      []Field
	Time        time.Time
}

// Tag is a tag of a Point.
type Tag struct{ Key, Value string }

// Field is a field of a Point. Value is an int64, a float64 or a string: unsigned counters
// are written as integers, as Telegraf does by default (influx_uint_support = false), so
// the field types match Telegraf's and both can write to one database.
type Field struct {
	Key   string
	Value any
}

// newPoint returns a point with tags and fields sorted by key.
func newPoint(measurement string, tags []Tag, fields []Field, t time.Time) Point {
	slices.SortFunc(tags, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(fields, func(a, b Field) int { return strings.Compare(a.Key, b.Key) })
	return Point{Measurement: measurement, Tags: tags, Fields: fields, Time: t}
}

// Field returns the value of the field key, or nil.
func (p Point) Field(key string) any {
	for _, f := range p.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return nil
}

// Tag returns the value of the tag key, or "".
func (p Point) Tag(key string) string {
	for _, t := range p.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// AppendLine appends the point in InfluxDB line protocol (nanosecond precision, no
// newline) to b. Tags with an empty value and float fields that are NaN or ±Inf are left
// out (line protocol cannot carry them); a point left without fields appends nothing.
func (p Point) AppendLine(b []byte) []byte {
	start := len(b)
	b = appendEscaped(b, p.Measurement, ", ")
	for _, t := range p.Tags {
		if t.Value == "" {
			continue
		}
		b = append(b, ',')
		b = appendEscaped(b, t.Key, ",= ")
		b = append(b, '=')
		b = appendEscaped(b, t.Value, ",= ")
	}
	sep := byte(' ')
	n := 0
	for _, f := range p.Fields {
		mark := len(b)
		b = append(b, sep)
		b = appendEscaped(b, f.Key, ",= ")
		b = append(b, '=')
		switch v := f.Value.(type) {
		case int64:
			b = strconv.AppendInt(b, v, 10)
			b = append(b, 'i')
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				b = b[:mark]
				continue
			}
			b = strconv.AppendFloat(b, v, 'f', -1, 64)
		case string:
			b = append(b, '"')
			b = appendEscaped(b, v, `"\`)
			b = append(b, '"')
		default:
			b = b[:mark]
			continue
		}
		sep = ','
		n++
	}
	if n == 0 {
		return b[:start]
	}
	b = append(b, ' ')
	return strconv.AppendInt(b, p.Time.UnixNano(), 10)
}

// Line returns the point in line protocol; see AppendLine.
func (p Point) Line() string { return string(p.AppendLine(nil)) }

// appendEscaped appends s with a backslash before each byte of special.
func appendEscaped(b []byte, s, special string) []byte {
	if !strings.ContainsAny(s, special) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

// u64 converts an unsigned counter to an integer field value, clamping at MaxInt64 as
// Telegraf does.
func u64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
