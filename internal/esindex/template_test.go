package esindex

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTemplateName(t *testing.T) {
	ts := time.Date(2026, 3, 7, 23, 30, 0, 0, time.FixedZone("X", -2*3600)) // 2026-03-08T01:30Z
	tests := []struct {
		name, template, topic, want, wildcard, err string
	}{
		{name: "default", template: "{topic}-{yyyy.MM.dd}", topic: "nginx", want: "nginx-2026.03.08", wildcard: "*-*"},
		{name: "classic", template: "{topic}", topic: "nginx", want: "nginx", wildcard: "*"},
		{name: "lower-cased topic", template: "{topic}", topic: "App.Log", want: "app.log", wildcard: "*"},
		{name: "prefix and hour", template: "logs-{topic}-{yy.MM.dd.HH}", topic: "a", want: "logs-a-26.03.08.01", wildcard: "logs-*-*"},
		{name: "month", template: "{topic}-{yyyy-MM}", topic: "a", want: "a-2026-03", wildcard: "*-*"},
		{name: "adjacent placeholders", template: "{topic}{yyyy}", topic: "a", want: "a2026", wildcard: "*"},
		{name: "no topic", template: "logs-{yyyy}", err: "must contain {topic}"},
		{name: "unknown placeholder", template: "{topic}-{host}", err: "unknown placeholder {host}"},
		{name: "empty placeholder", template: "{topic}-{}", err: "unknown placeholder {}"},
		{name: "unterminated", template: "{topic}-{yyyy", err: "unterminated {"},
		{name: "upper case literal", template: "Logs-{topic}", err: "lower case"},
		{name: "empty", template: "", err: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Parse(tt.template)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, n.Name(tt.topic, ts))
			require.Equal(t, tt.wildcard, n.Wildcard())
		})
	}
}

// Match takes for the template's only the names it makes, and reads their
// topic and period back; names of other tools, hidden indices and dates
// that do not exist are no match.
func TestTemplateMatch(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name, template, index string
		wantTopic             string
		wantStart, wantEnd    time.Time
	}{
		{name: "daily", template: "{topic}-{yyyy.MM.dd}", index: "nginx-2026.03.08", wantTopic: "nginx", wantStart: day(2026, 3, 8), wantEnd: day(2026, 3, 9)},
		{name: "topic with dashes and dots", template: "{topic}-{yyyy.MM.dd}", index: "app-web.access-2026.12.31", wantTopic: "app-web.access", wantStart: day(2026, 12, 31), wantEnd: day(2027, 1, 1)},
		{name: "hourly", template: "logs-{topic}-{yy.MM.dd.HH}", index: "logs-a-26.03.08.23", wantTopic: "a", wantStart: day(2026, 3, 8).Add(23 * time.Hour), wantEnd: day(2026, 3, 9)},
		{name: "monthly", template: "{topic}-{yyyy-MM}", index: "a-2026-02", wantTopic: "a", wantStart: day(2026, 2, 1), wantEnd: day(2026, 3, 1)},
		{name: "yearly", template: "{topic}-{yyyy}", index: "a-2025", wantTopic: "a", wantStart: day(2025, 1, 1), wantEnd: day(2026, 1, 1)},
		{name: "date in two placeholders", template: "{topic}-{yyyy}.{MM}.{dd}", index: "a-2026.02.28", wantTopic: "a", wantStart: day(2026, 2, 28), wantEnd: day(2026, 3, 1)},
		{name: "not a date", template: "{topic}-{yyyy.MM.dd}", index: "nginx-2026.13.01"},
		{name: "29 February of a common year", template: "{topic}-{yyyy.MM.dd}", index: "nginx-2026.02.29"},
		{name: "another date format", template: "{topic}-{yyyy.MM.dd}", index: "nginx-2026-03-08"},
		{name: "no date", template: "{topic}-{yyyy.MM.dd}", index: "nginx"},
		{name: "hidden index", template: "{topic}-{yyyy.MM.dd}", index: ".monitoring-es-7-2026.03.08"},
		{name: "upper case", template: "{topic}-{yyyy.MM.dd}", index: "Nginx-2026.03.08"},
		{name: "another prefix", template: "logs-{topic}-{yyyy.MM.dd}", index: "metrics-a-2026.03.08"},
		{name: "trailing text", template: "{topic}-{yyyy.MM.dd}", index: "nginx-2026.03.08-restored"},
		{name: "template without date", template: "{topic}", index: "nginx"},
		{name: "date with a gap", template: "{topic}-{yyyy.dd}", index: "nginx-2026.08"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.template)
			require.NoError(t, err)
			got, ok := tmpl.Match(tt.index)
			if tt.wantTopic == "" {
				require.False(t, ok, "%+v", got)
				return
			}
			require.True(t, ok)
			require.Equal(t, Index{Name: tt.index, Topic: tt.wantTopic, Start: tt.wantStart, End: tt.wantEnd}, got)
			require.Equal(t, tt.index, tmpl.Name(got.Topic, got.Start), "Name makes it again")
		})
	}
}

func TestCheckDated(t *testing.T) {
	for template, want := range map[string]string{
		"{topic}-{yyyy.MM.dd}":    "",
		"{topic}-{yyyy.MM.dd.HH}": "",
		"{topic}-{yy.MM}":         "",
		"{topic}":                 "no date placeholder",
		"{topic}-{MM.dd}":         "does not name one period",
		"{topic}-{yyyy.dd}":       "does not name one period",
	} {
		tmpl, err := Parse(template)
		require.NoError(t, err)
		if want == "" {
			require.NoError(t, tmpl.CheckDated(), template)
		} else {
			require.ErrorContains(t, tmpl.CheckDated(), want, template)
		}
	}
}

// An index is old once its whole period is older than the maximum age: the
// newest document it can hold decides, so that nothing younger than the
// age is deleted.
func TestOlderThan(t *testing.T) {
	tmpl, err := Parse("{topic}-{yyyy.MM.dd}")
	require.NoError(t, err)
	idx, ok := tmpl.Match("a-2026.03.01")
	require.True(t, ok)
	const month = 30 * 24 * time.Hour
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"the day itself", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), false},
		{"its last document is 30 days old minus a second", time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC), false},
		{"its last document is 30 days old", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), true},
		{"long after", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, idx.OlderThan(month, tt.now))
			got := Old([]Info{{Index: idx}}, month, tt.now)
			require.Equal(t, tt.want, len(got) == 1)
		})
	}
}
