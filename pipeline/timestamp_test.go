package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTimestamp(t *testing.T) {
	// Syslog's times have no year: "now" decides it.
	now := time.Date(2027, 1, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, step, in string
		want           string // @timestamp, or the field of want
		field          string // where want is; default @timestamp
		wantErr        string
	}{
		{name: "RFC3339Nano, the line's offset", step: `timestamp: {field: time, formats: [RFC3339Nano]}`,
			in: `{"time":"2026-12-07T10:00:00.123456789+01:00"}`, want: "2026-12-07T09:00:00.123456789Z"},
		{name: "RFC3339 wins over timezone", step: `timestamp: {field: time, formats: [RFC3339], timezone: America/New_York}`,
			in: `{"time":"2026-12-07T10:00:00Z"}`, want: "2026-12-07T10:00:00Z"},
		{name: "the issue's app log, second format", step: `timestamp: {field: time, formats: [RFC3339Nano, "2006-01-02 15:04:05.000"], timezone: UTC}`,
			in: `{"time":"2026-12-07 10:00:00.250"}`, want: "2026-12-07T10:00:00.25Z"},
		{name: "Go layout in Europe/Berlin, winter", step: `timestamp: {field: time, formats: ["2006-01-02 15:04:05"], timezone: Europe/Berlin}`,
			in: `{"time":"2026-12-07 10:00:00"}`, want: "2026-12-07T09:00:00Z"},
		{name: "Go layout in Europe/Berlin, summer", step: `timestamp: {field: time, formats: ["2006-01-02 15:04:05"], timezone: Europe/Berlin}`,
			in: `{"time":"2026-07-01 10:00:00"}`, want: "2026-07-01T08:00:00Z"},
		{name: "DST: the last second before the autumn change", step: `timestamp: {field: time, formats: ["2006-01-02 15:04:05"], timezone: Europe/Berlin}`,
			in: `{"time":"2026-10-25 01:59:59"}`, want: "2026-10-24T23:59:59Z"},
		// A wall time that does not exist (spring) or exists twice (autumn)
		// has no single answer; Go takes +01:00 for both, which this test
		// records (time.Date does not promise which).
		{name: "DST: a time in the spring gap", step: `timestamp: {field: time, formats: ["2006-01-02 15:04:05"], timezone: Europe/Berlin}`,
			in: `{"time":"2026-03-29 02:30:00"}`, want: "2026-03-29T01:30:00Z"},
		{name: "DST: a time in the autumn overlap", step: `timestamp: {field: time, formats: ["2006-01-02 15:04:05"], timezone: Europe/Berlin}`,
			in: `{"time":"2026-10-25 02:30:00"}`, want: "2026-10-25T01:30:00Z"},
		{name: "nginx", step: `timestamp: {field: nginx.time_local, formats: [nginx]}`,
			in: `{"nginx":{"time_local":"07/Dec/2026:10:00:00 -0700"}}`, want: "2026-12-07T17:00:00Z"},
		{name: "syslog in last year's December", step: `timestamp: {field: time, formats: [syslog], timezone: Europe/Berlin}`,
			in: `{"time":"Dec 31 23:59:59"}`, want: "2026-12-31T22:59:59Z"},
		{name: "syslog, a day of one digit", step: `timestamp: {field: time, formats: [syslog]}`,
			in: `{"time":"Jan  2 10:00:00"}`, want: "2027-01-02T10:00:00Z"},
		{name: "RFC1123Z", step: `timestamp: {field: time, formats: [RFC1123Z]}`,
			in: `{"time":"Mon, 07 Dec 2026 10:00:00 +0100"}`, want: "2026-12-07T09:00:00Z"},
		{name: "RFC1123, a zone abbreviation of timezone", step: `timestamp: {field: time, formats: [RFC1123], timezone: Europe/Berlin}`,
			in: `{"time":"Mon, 07 Dec 2026 10:00:00 CET"}`, want: "2026-12-07T09:00:00Z"},
		{name: "ANSIC in America/New_York", step: `timestamp: {field: time, formats: [ANSIC], timezone: America/New_York}`,
			in: `{"time":"Mon Dec  7 10:00:00 2026"}`, want: "2026-12-07T15:00:00Z"},
		{name: "StampMilli", step: `timestamp: {field: time, formats: [StampMilli]}`,
			in: `{"time":"Dec  7 10:00:00.125"}`, want: "2026-12-07T10:00:00.125Z"},
		{name: "ISO8601 without a zone, comma fraction", step: `timestamp: {field: time, formats: [ISO8601], timezone: Asia/Tokyo}`,
			in: `{"time":"2026-12-07T10:00:00,5"}`, want: "2026-12-07T01:00:00.5Z"},
		{name: "ISO8601 with +0100", step: `timestamp: {field: time, formats: [ISO8601]}`,
			in: `{"time":"2026-12-07 10:00:00.123+0100"}`, want: "2026-12-07T09:00:00.123Z"},
		{name: "ISO8601, a date", step: `timestamp: {field: time, formats: [ISO8601]}`,
			in: `{"time":"2026-12-07"}`, want: "2026-12-07T00:00:00Z"},
		{name: "UNIX, a string with nanoseconds", step: `timestamp: {field: ts, formats: [UNIX]}`,
			in: `{"ts":"1765101600.123456789"}`, want: "2025-12-07T10:00:00.123456789Z"},
		{name: "UNIX, a JSON float (zap)", step: `timestamp: {field: ts, formats: [UNIX]}`,
			in: `{"ts":1765101600.123}`, want: "2025-12-07T10:00:00.123Z"},
		{name: "UNIX, a JSON integer", step: `timestamp: {field: ts, formats: [UNIX]}`,
			in: `{"ts":1765101600}`, want: "2025-12-07T10:00:00Z"},
		{name: "UNIX before 1970", step: `timestamp: {field: ts, formats: [UNIX]}`,
			in: `{"ts":"-1.5"}`, want: "1969-12-31T23:59:58.5Z"},
		{name: "UNIX_MS, a JSON integer", step: `timestamp: {field: ts, formats: [UNIX_MS]}`,
			in: `{"ts":1765101600123}`, want: "2025-12-07T10:00:00.123Z"},
		{name: "UNIX_MS with microseconds", step: `timestamp: {field: ts, formats: [UNIX_MS]}`,
			in: `{"ts":"1765101600123.456"}`, want: "2025-12-07T10:00:00.123456Z"},
		{name: "milliseconds read as UNIX are after 9999", step: `timestamp: {field: ts, formats: [UNIX]}`,
			in: `{"ts":1765101600123}`, wantErr: `field ts: time "1765101600123" matches none of the formats`},
		{name: "UNIX then a layout", step: `timestamp: {field: ts, formats: [UNIX, RFC3339]}`,
			in: `{"ts":"2026-12-07T10:00:00Z"}`, want: "2026-12-07T10:00:00Z"},
		{name: "a date as a JSON number", step: `timestamp: {field: day, formats: ["20060102"]}`,
			in: `{"day":20261207}`, want: "2026-12-07T00:00:00Z"},
		{name: "another target", step: `timestamp: {field: time, formats: [nginx], target: event.created}`,
			in: `{"time":"07/Dec/2026:10:00:00 +0100"}`, field: "event.created", want: "2026-12-07T09:00:00Z"},
		{name: "a target where a string is", step: `timestamp: {field: time, formats: [nginx], target: time.utc}`,
			in: `{"time":"07/Dec/2026:10:00:00 +0100"}`, wantErr: "cannot set time.utc: time is a string, not an object"},
		{name: "no format fits", step: `timestamp: {field: time, formats: [RFC3339, UNIX]}`,
			in: `{"time":"yesterday"}`, wantErr: `pipeline p: processors[0] (timestamp): field time: time "yesterday" matches none of the formats`},
		{name: "a date that does not exist", step: `timestamp: {field: time, formats: ["2006-01-02"]}`,
			in: `{"time":"2026-02-30"}`, wantErr: `field time: time "2026-02-30" matches none of the formats`},
		{name: "a boolean", step: `timestamp: {field: time, formats: [UNIX]}`,
			in: `{"time":true}`, wantErr: "field time is a boolean, not a time"},
		{name: "missing", step: `timestamp: {field: time, formats: [UNIX]}`,
			in: `{"message":"m"}`, wantErr: "field time not found"},
		{name: "null", step: `timestamp: {field: time, formats: [UNIX]}`,
			in: `{"time":null}`, wantErr: "field time is null"},
		{name: "missing, ignored", step: `timestamp: {field: time, formats: [UNIX], ignore_missing: true}`,
			in: `{"message":"m"}`, field: "message", want: "m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := stepPipeline(t, tt.step)
			p.steps[0].proc.(*timestampProc).parser.now = func() time.Time { return now }
			e := event(t, tt.in)
			err := p.Run(e)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				msg, _ := e.GetString("error.message")
				require.Equal(t, err.Error(), msg)
				return
			}
			require.NoError(t, err)
			field := tt.field
			if field == "" {
				field = "@timestamp"
			}
			got, _ := e.GetString(field)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTimestampConfig(t *testing.T) {
	for step, want := range map[string]string{
		`timestamp: {formats: [UNIX]}`:                                    "pipeline p: processors[0] (timestamp): field: required",
		`timestamp: {field: t}`:                                           "formats: at least one is required",
		`timestamp: {field: t, formats: [RFC3339nano]}`:                   `formats[0] "RFC3339nano": not a Go layout`,
		`timestamp: {field: t, formats: [UNIX], timezone: CEST}`:          `timezone: "CEST" is not an IANA time zone name`,
		`timestamp: {field: t, formats: [UNIX], timezone: Europe/Berlni}`: `timezone: "Europe/Berlni" is not an IANA time zone name`,
		`timestamp: {field: t, formats: [UNIX], timezone: Local}`:         `timezone: "Local" is refused`,
		`timestamp: {field: t, formats: [UNIX], target: ""}`:              "target: must not be empty",
		`timestamp: {field: t, formats: [UNIX], zone: UTC}`:               "field zone not found",
	} {
		require.ErrorContains(t, stepError(t, step), want, step)
	}
}

func BenchmarkTimestamp(b *testing.B) {
	p := stepPipeline(b, `timestamp: {field: time, formats: [RFC3339Nano, "2006-01-02 15:04:05.000"], timezone: Europe/Berlin}`).steps[0].proc
	e := NewEvent(map[string]any{"time": "2026-12-07 10:00:00.123"})
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Process(e); err != nil {
			b.Fatal(err)
		}
	}
}
