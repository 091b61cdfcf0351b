package sysmon

import (
	"math"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v3/mem"
	"github.com/stretchr/testify/require"
)

func TestPointLine(t *testing.T) {
	ts := time.Unix(1_700_000_000, 5)
	tests := []struct {
		name  string
		point Point
		want  string
	}{
		{name: "types", point: Point{Measurement: "m", Tags: []Tag{{"host", "h"}},
			Fields: []Field{{"f", 1.5}, {"i", int64(-3)}, {"s", "a b"}}, Time: ts},
			want: `m,host=h f=1.5,i=-3i,s="a b" 1700000000000000005`},
		{name: "escaping", point: Point{Measurement: "my m,x", Tags: []Tag{{"k=1", "v, w=2"}},
			Fields: []Field{{"f k", `say "hi" \o/`}}, Time: ts},
			want: `my\ m\,x,k\=1=v\,\ w\=2 f\ k="say \"hi\" \\o/" 1700000000000000005`},
		{name: "empty tag value left out", point: Point{Measurement: "m", Tags: []Tag{{"a", ""}, {"b", "1"}},
			Fields: []Field{{"f", 1.0}}, Time: ts}, want: `m,b=1 f=1 1700000000000000005`},
		{name: "NaN and Inf left out", point: Point{Measurement: "m",
			Fields: []Field{{"a", math.NaN()}, {"b", 2.0}, {"c", math.Inf(1)}}, Time: ts}, want: `m b=2 1700000000000000005`},
		{name: "no fields left: no line", point: Point{Measurement: "m", Fields: []Field{{"a", math.NaN()}}, Time: ts}, want: ``},
		{name: "large float not in exponent form", point: Point{Measurement: "m", Fields: []Field{{"a", 35184372087808.0}}, Time: ts},
			want: `m a=35184372087808 1700000000000000005`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.point.Line())
		})
	}
}

func TestU64(t *testing.T) {
	require.Equal(t, int64(5), u64(5))
	require.Equal(t, int64(math.MaxInt64), u64(math.MaxInt64))
	require.Equal(t, int64(math.MaxInt64), u64(math.MaxUint64))
}

func TestMemFieldsZeroTotal(t *testing.T) {
	// A 0 total gives NaN percentages, which the line leaves out instead of failing.
	p := newPoint("mem", nil, memFields(&memStatZero), time.Unix(0, 0))
	require.NotContains(t, p.Line(), "used_percent")
	require.Contains(t, p.Line(), "total=0i")
}

var memStatZero = mem.VirtualMemoryStat{}
