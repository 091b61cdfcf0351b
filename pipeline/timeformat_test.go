package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTimeParser(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	now := time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		formats []string
		loc     *time.Location
		in      string
		want    time.Time
		wantErr string
	}{
		{name: "RFC3339Nano", formats: []string{"RFC3339Nano"}, in: "2026-12-07T10:00:00.123456789+01:00",
			want: time.Date(2026, 12, 7, 9, 0, 0, 123456789, time.UTC)},
		{name: "second format", formats: []string{"RFC3339", "2006-01-02 15:04:05.000"}, in: "2026-12-07 10:00:00.250",
			want: time.Date(2026, 12, 7, 10, 0, 0, 250e6, time.UTC)},
		{name: "zone from the config", formats: []string{"2006-01-02 15:04:05"}, loc: berlin, in: "2026-12-07 10:00:00",
			want: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)},
		{name: "nginx", formats: []string{"nginx"}, in: "07/Dec/2026:10:00:00 -0700",
			want: time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)},
		{name: "UNIX", formats: []string{"UNIX"}, in: "1765101600.5", want: time.Date(2025, 12, 7, 10, 0, 0, 5e8, time.UTC)},
		{name: "UNIX_MS", formats: []string{"UNIX_MS"}, in: "1765101600123", want: time.Date(2025, 12, 7, 10, 0, 0, 123e6, time.UTC)},
		{name: "syslog, this year", formats: []string{"syslog"}, in: "Jan  2 10:00:00", want: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)},
		{name: "syslog, last December", formats: []string{"syslog"}, in: "Dec 31 23:59:59", want: time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)},
		{name: "UNIX, exact to the nanosecond", formats: []string{"UNIX"}, in: "1765101600.123456789",
			want: time.Date(2025, 12, 7, 10, 0, 0, 123456789, time.UTC)},
		{name: "UNIX past the year 9999", formats: []string{"UNIX"}, in: "253402300800", wantErr: `time "253402300800" matches none of the formats`},
		{name: "UNIX, not a number", formats: []string{"UNIX"}, in: "1e9", wantErr: `time "1e9" matches none of the formats`},
		{name: "ISO8601", formats: []string{"ISO8601"}, in: "2026-12-07T10:00:00.5-02:00", want: time.Date(2026, 12, 7, 12, 0, 0, 5e8, time.UTC)},
		{name: "a layout of a day", formats: []string{"02.01.2006"}, in: "07.12.2026", want: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{name: "no match", formats: []string{"RFC3339"}, in: "yesterday", wantErr: `time "yesterday" matches none of the formats`},
		{name: "a layout of a year only", formats: []string{"2006"}, wantErr: `formats[0] "2006": not a Go layout naming a day or minutes`},
		{name: "not a layout", formats: []string{"RFC3339nano"}, wantErr: `formats[0] "RFC3339nano": not a Go layout`},
		{name: "no formats", wantErr: "formats: at least one is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewTimeParser(tt.formats, tt.loc)
			if tt.wantErr == "" {
				require.NoError(t, err)
			}
			if err == nil {
				p.now = func() time.Time { return now }
				var got time.Time
				got, err = p.Parse(tt.in)
				if err == nil {
					require.Empty(t, tt.wantErr)
					require.True(t, tt.want.Equal(got), "got %s, want %s", got, tt.want)
					return
				}
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
