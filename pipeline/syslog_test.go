package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syslogClock fixes the clock of a syslog processor's year inference to
// 2 January 2027, noon UTC.
func syslogClock(p Processor) {
	p.(*syslogProc).years.now = func() time.Time { return time.Date(2027, 1, 2, 12, 0, 0, 0, time.UTC) }
}

func TestSyslogRFC3164(t *testing.T) {
	runPresetCasesWith(t, "syslog: {}", syslogClock, []presetCase{
		{name: "rsyslog's file format, no PRI",
			line: "Dec 31 23:59:59 web1 sshd[4242]: Accepted publickey for deploy from 192.0.2.1 port 52000 ssh2: ED25519 SHA256:abc",
			want: `{"@timestamp":"2026-12-31T23:59:59Z","host":{"hostname":"web1"},"process":{"name":"sshd","pid":4242},
				"message":"Accepted publickey for deploy from 192.0.2.1 port 52000 ssh2: ED25519 SHA256:abc"}`},
		{name: "this year's January", line: "Jan  2 11:59:00 web1 CRON[4567]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
			want: `{"@timestamp":"2027-01-02T11:59:00Z","host":{"hostname":"web1"},"process":{"name":"CRON","pid":4567},
				"message":"(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"}`},
		{name: "RFC 3164's example, with PRI",
			line: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			want: `{"@timestamp":"2026-10-11T22:14:15Z","host":{"hostname":"mymachine"},"process":{"name":"su"},
				"log":{"syslog":{"priority":34,"facility":{"code":4,"name":"auth"},"severity":{"code":2,"name":"crit"}}},
				"message":"'su root' failed for lonvick on /dev/pts/8"}`},
		{name: "RSYSLOG_FileFormat: an RFC 3339 time",
			line: "2026-12-07T10:00:00.123456+01:00 web1 systemd[1]: Started session-3.scope - Session 3 of User root.",
			want: `{"@timestamp":"2026-12-07T09:00:00.123456Z","host":{"hostname":"web1"},"process":{"name":"systemd","pid":1},
				"message":"Started session-3.scope - Session 3 of User root."}`},
		{name: "the kernel: no PID", line: "Dec  7 10:00:00 web1 kernel: [12345.678901] usb 1-1: new high-speed USB device number 2 using xhci_hcd",
			want: `{"@timestamp":"2026-12-07T10:00:00Z","host":{"hostname":"web1"},"process":{"name":"kernel"},
				"message":"[12345.678901] usb 1-1: new high-speed USB device number 2 using xhci_hcd"}`},
		{name: "no hostname", line: "Dec  7 10:00:00 sshd[123]: Connection closed by 192.0.2.1 port 4242",
			want: `{"@timestamp":"2026-12-07T10:00:00Z","process":{"name":"sshd","pid":123},"message":"Connection closed by 192.0.2.1 port 4242"}`},
		{name: "no tag", line: "Dec  7 10:00:00 web1 -- MARK --",
			want: `{"@timestamp":"2026-12-07T10:00:00Z","host":{"hostname":"web1"},"message":"-- MARK --"}`},
		{name: "a PID that is not a number", line: "<13>Dec  7 10:00:00 web1 app[main]: started",
			want: `{"@timestamp":"2026-12-07T10:00:00Z","host":{"hostname":"web1"},"process":{"name":"app"},
				"log":{"syslog":{"priority":13,"facility":{"code":1,"name":"user"},"severity":{"code":5,"name":"notice"},"procid":"main"}},"message":"started"}`},
		{name: "an empty MSG", line: "Dec  7 10:00:00 web1 app[12]: ",
			want: `{"@timestamp":"2026-12-07T10:00:00Z","host":{"hostname":"web1"},"process":{"name":"app","pid":12},"message":""}`},
		{name: "a MSG that looks like a TAG", line: "Dec  7 10:00:00 web1 app: app:",
			want: `{"@timestamp":"2026-12-07T10:00:00Z","host":{"hostname":"web1"},"process":{"name":"app"},"message":"app:"}`},
		{name: "a zero-padded day, UTF-8, a tab", line: "Dec 07 10:00:00 web1 app: héllo\twörld",
			want: `{"@timestamp":"2026-12-07T10:00:00Z","host":{"hostname":"web1"},"process":{"name":"app"},"message":"héllo\twörld"}`},
		{name: "in the configured zone", processor: "syslog: {timezone: Europe/Berlin}",
			line: "Jul  1 12:00:00 web1 app: summer",
			want: `{"@timestamp":"2026-07-01T10:00:00Z","host":{"hostname":"web1"},"process":{"name":"app"},"message":"summer"}`},
		{name: "forced rfc3164", processor: "syslog: {format: rfc3164}",
			line: "<13>1 2026-12-07T10:00:00Z web1 app - - - x", wantErr: "rfc3164: expecting a timestamp (Jan _2 15:04:05 or RFC 3339) [col 4]"},
		{name: "the agent's record: host.name stays, the line's hostname joins it",
			in:   `{"@timestamp":"2027-01-02T00:00:01Z","message":"Dec  7 10:00:00 db1 postgres[77]: checkpoint starting: time","host":{"name":"collector1"},"log":{"file":{"path":"/var/log/syslog"},"offset":7}}`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","message":"checkpoint starting: time","host":{"name":"collector1","hostname":"db1"},"log":{"file":{"path":"/var/log/syslog"},"offset":7},"process":{"name":"postgres","pid":77}}`},

		{name: "not syslog", line: "Hello world", wantErr: "rfc3164: expecting a timestamp (Jan _2 15:04:05 or RFC 3339) [col 0]"},
		{name: "PRI only", line: "<34>", wantErr: "rfc3164: expecting a timestamp (Jan _2 15:04:05 or RFC 3339) [col 4]"},
		{name: "PRI out of range", line: "<192>Dec  7 10:00:00 web1 app: x", wantErr: "rfc3164: expecting a priority value in the range 1-191 or equal to 0 [col 3]"},
		{name: "one space before a day", line: "Dec 7 10:00:00 web1 app: x", wantErr: "rfc3164: expecting a Stamp timestamp [col 4]"},
		{name: "a control character", line: "Dec  7 10:00:00 web1 app: bell \a", wantErr: "rfc3164: a control character (0x07) in the message [col 31]"},
		{name: "host is not an object", in: `{"message":"Dec  7 10:00:00 web1 app: x","host":"web1"}`,
			wantErr: "cannot set host.hostname: host is a string, not an object"},
	})
}

func TestSyslogRFC5424(t *testing.T) {
	runPresetCasesWith(t, "syslog: {}", syslogClock, []presetCase{
		{name: "structured data, a BOM",
			line: "<165>1 2026-12-07T10:00:00.003Z mymachine.example.com evntslog 4242 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"] \ufeffAn application event log entry...",
			want: `{"@timestamp":"2026-12-07T10:00:00.003Z","host":{"hostname":"mymachine.example.com"},"process":{"name":"evntslog","pid":4242},
				"log":{"syslog":{"priority":165,"facility":{"code":20,"name":"local4"},"severity":{"code":5,"name":"notice"},"version":"1","msgid":"ID47",
					"structured_data":{"exampleSDID@32473":{"iut":"3","eventSource":"Application","eventID":"1011"},"examplePriority@32473":{"class":"high"}}}},
				"message":"An application event log entry..."}`},
		{name: "escapes in a parameter", line: `<13>1 2026-12-07T10:00:00+01:00 web1 app - - [x@1 a="q\"b\]c\\d"] m`,
			want: `{"@timestamp":"2026-12-07T09:00:00Z","host":{"hostname":"web1"},"process":{"name":"app"},
				"log":{"syslog":{"priority":13,"facility":{"code":1,"name":"user"},"severity":{"code":5,"name":"notice"},"version":"1",
					"structured_data":{"x@1":{"a":"q\"b]c\\d"}}}},"message":"m"}`},
		{name: "every part nil: the read time stays", line: "<14>1 - - - - - -",
			in:   `{"@timestamp":"2026-12-08T00:00:00Z","message":"<14>1 - - - - - -"}`,
			want: `{"@timestamp":"2026-12-08T00:00:00Z","log":{"syslog":{"priority":14,"facility":{"code":1,"name":"user"},"severity":{"code":6,"name":"info"},"version":"1"}},"message":""}`},
		{name: "no PRI", line: "1 2026-12-07T10:00:00Z web1 app 12 - - started",
			want: `{"@timestamp":"2026-12-07T10:00:00Z","host":{"hostname":"web1"},"process":{"name":"app","pid":12},"log":{"syslog":{"version":"1"}},"message":"started"}`},
		{name: "a PROCID that is not a number", line: "<15>1 2026-12-07T10:00:00Z web1 app worker-3 - - x",
			want: `{"@timestamp":"2026-12-07T10:00:00Z","host":{"hostname":"web1"},"process":{"name":"app"},
				"log":{"syslog":{"priority":15,"facility":{"code":1,"name":"user"},"severity":{"code":7,"name":"debug"},"version":"1","procid":"worker-3"}},"message":"x"}`},
		{name: "forced rfc5424", processor: "syslog: {format: rfc5424}",
			line: "Dec  7 10:00:00 web1 app: x", wantErr: "rfc5424: expecting a version value in the range 1-999 [col 0]"},

		{name: "cut after the host", line: "<13>1 2026-12-07T10:00:00Z web1",
			wantErr: "rfc5424: expecting an hostname (from 1 to max 255 US-ASCII characters) or a nil value [col 31]"},
		{name: "a bad date", line: "<13>1 2026-13-07T10:00:00Z web1 app - - - x",
			wantErr: "rfc5424: expecting a RFC3339MICRO timestamp or a nil value [col 12]"},
	})
}

func TestSyslogFormatOf(t *testing.T) {
	for line, want := range map[string]string{
		"<13>1 2026-12-07T10:00:00Z h a - - - x": syslogRFC5424,
		"1 2026-12-07T10:00:00Z h a - - - x":     syslogRFC5424,
		"<13>12 x":                               syslogRFC5424,
		"<13>Dec  7 10:00:00 h a: x":             syslogRFC3164,
		"2026-12-07T10:00:00Z h a: x":            syslogRFC3164,
		"<13>0 x":                                syslogRFC3164,
		"<13>1000 x":                             syslogRFC3164,
		"<13>1":                                  syslogRFC3164,
		"":                                       syslogRFC3164,
	} {
		require.Equal(t, want, syslogFormatOf(line), line)
	}
}

func TestSyslogConfig(t *testing.T) {
	presetConfigErrors(t, map[string]string{
		"syslog: {format: bsd}":         `format "bsd": want rfc3164, rfc5424 or auto`,
		"syslog: {timezone: Nowhere}":   `timezone "Nowhere": unknown time zone Nowhere`,
		"syslog: {best_effort: true}":   "field best_effort not found",
		"syslog: {format: [rfc3164]}":   "cannot unmarshal",
		"syslog: {field: 3, x: y, z: }": "field x not found",
	})
}

func FuzzSyslog(f *testing.F) {
	for _, s := range []string{
		"Dec  7 10:00:00 web1 sshd[4242]: Accepted publickey for deploy",
		"<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
		"2026-12-07T10:00:00.123456+01:00 web1 systemd[1]: Started",
		"Dec  7 10:00:00 web1 app[12]: ",
		"<165>1 2026-12-07T10:00:00.003Z host app 42 ID47 [a@1 b=\"c\\\"\"][d@2 e=\"f\"] \ufeffmsg",
		"<14>1 - - - - - -",
		"1 2026-12-07T10:00:00Z h a - - - x",
		"",
	} {
		f.Add(s)
	}
	proc := newPreset(f, "syslog", "{}")
	f.Fuzz(func(t *testing.T, line string) {
		fuzzProcess(t, proc, line)
	})
}

func BenchmarkSyslogRFC3164(b *testing.B) {
	benchPreset(b, newPreset(b, "syslog", "{}"), "message",
		"Dec  7 10:00:00 web1 sshd[4242]: Accepted publickey for deploy from 192.0.2.1 port 52000 ssh2: ED25519 SHA256:abc")
}

func BenchmarkSyslogRFC5424(b *testing.B) {
	benchPreset(b, newPreset(b, "syslog", "{}"), "message",
		"<165>1 2026-12-07T10:00:00.003Z mymachine.example.com evntslog 4242 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] An application event log entry")
}
