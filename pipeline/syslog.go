package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

// The syslog preset parses RFC 3164 (BSD) and RFC 5424 syslog lines into
// ECS fields, as Filebeat's syslog processor and system module do, and takes
// @timestamp from the line:
//
//	syslog: {format: auto, field: message, timezone: UTC}
//
// format is rfc3164, rfc5424 or auto (the default): auto reads a line as RFC
// 5424 when a version number and a space follow its PRI ("<34>1 "; RFC 5424
// section 6.2.2), else as RFC 3164. The PRI ("<34>") is optional in both,
// because the files syslog daemons write leave it out: rsyslog's default
// file format is RFC 3164 without PRI ("Dec  7 10:00:00 web1 sshd[123]:
// msg"), and its RSYSLOG_FileFormat, the default of recent Debian and
// Ubuntu, puts an RFC 3339 time in its place ("2026-12-07T10:00:00.123456+01:00
// web1 sshd[123]: msg"). timezone is the zone of RFC 3164 times, which have
// none (default UTC); such a time has no year either, and takes the one that
// puts it nearest to now (a line of 31 December read on 2 January is of last
// year).
//
// Fields: log.syslog.priority, log.syslog.facility.code and .name,
// log.syslog.severity.code and .name (when the line has a PRI; names are the
// keywords of RFC 5427: daemon, local0, err, info...), host.hostname,
// process.name (the app name, RFC 3164's TAG), process.pid (an integer;
// a PROCID that is not a number, as RFC 5424 allows, goes to
// log.syslog.procid), log.syslog.msgid, log.syslog.version and
// log.syslog.structured_data (RFC 5424: {SD-ID: {PARAM-NAME: value}}),
// message (the MSG part, without RFC 5424's byte order mark) and
// @timestamp. A part the line leaves out ("-" in RFC 5424) is left out.
//
// The parsing is github.com/leodido/go-syslog's Ragel machines, strict
// (not best effort): a line they do not read is an error, and the event
// keeps its whole line in message.
type syslogProc struct {
	field  string
	format string // syslogAuto, syslogRFC3164 or syslogRFC5424
	// years gives RFC 3164 times a year (TimeParser.withYear) in their zone.
	years *TimeParser
	// The machines' options: a machine keeps its state in itself, so each
	// line gets a new one (a small allocation) and the processor stays safe
	// for concurrent use.
	opts3164, opts5424 []syslog.MachineOption
}

const (
	syslogAuto    = "auto"
	syslogRFC3164 = "rfc3164"
	syslogRFC5424 = "rfc5424"
)

func init() { register("syslog", newSyslog) }

func newSyslog(pc ProcessorConfig) (Processor, error) {
	field, format, loc, err := presetFormat(pc, syslogAuto, syslogRFC3164, syslogRFC5424)
	if err != nil {
		return nil, err
	}
	p := &syslogProc{field: field, format: format}
	if p.years, err = NewTimeParser([]string{"syslog"}, loc); err != nil {
		return nil, err
	}
	p.opts3164 = []syslog.MachineOption{
		rfc3164.WithOptionalPriority(),
		rfc3164.WithRFC3339(),         // rsyslog's RSYSLOG_FileFormat
		rfc3164.WithLenientDay(),      // "Dec 07" as well as "Dec  7"
		rfc3164.WithSecondFractions(), // "10:00:00.123"
		rfc3164.WithLocaleTimezone(loc),
		// The year stays 0 (the machine would fix this year for good when
		// it is built): withYear gives it one per line.
		rfc3164.WithYear(rfc3164.Year{YYYY: 0}),
	}
	p.opts5424 = []syslog.MachineOption{rfc5424.WithOptionalPriority()}
	return p, nil
}

func (p *syslogProc) Process(e *Event) error {
	line, err := presetLine(e, p.field)
	if err != nil {
		return err
	}
	format := p.format
	if format == syslogAuto {
		format = syslogFormatOf(line)
	}
	if format == syslogRFC5424 {
		return p.rfc5424(e, line)
	}
	return p.rfc3164(e, line)
}

// syslogFormatOf tells RFC 5424 lines from RFC 3164 ones by what follows
// the PRI: RFC 5424's VERSION (NONZERO-DIGIT 0*2DIGIT) and a space. An RFC
// 3164 line has a month name or an RFC 3339 date ("2026-") there.
func syslogFormatOf(line string) string {
	s := line
	if len(s) > 0 && s[0] == '<' {
		if i := strings.IndexByte(s, '>'); i > 0 && i <= 4 {
			s = s[i+1:]
		}
	}
	n := 0
	for n < len(s) && n < 4 && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	if n >= 1 && n <= 3 && s[0] != '0' && n < len(s) && s[n] == ' ' {
		return syslogRFC5424
	}
	return syslogRFC3164
}

func (p *syslogProc) rfc3164(e *Event, line string) error {
	if err := syslogCheck3164Start(line); err != nil {
		return err
	}
	msg, err := rfc3164.NewMachine(p.opts3164...).Parse([]byte(line))
	if err != nil {
		return fmt.Errorf("rfc3164: %w", err)
	}
	if msg == nil {
		// The machine stops without an error on a byte RFC 3164 does not
		// allow in MSG (a control character).
		return fmt.Errorf("rfc3164: %s", syslogBadByte(line))
	}
	m := msg.(*rfc3164.SyslogMessage)
	if m.Appname != nil && syslogEmptyMsg(line, *m.Appname, m.ProcID) {
		// "web1 app:" or "web1 app[12]: " and nothing after: the machine
		// gives (part of) the TAG as the MSG, which is empty.
		empty := ""
		m.Message = &empty
	}
	if m.Timestamp != nil && m.Timestamp.Year() == 0 {
		t := p.years.withYear(*m.Timestamp)
		m.Timestamp = &t
	}
	return syslogApply(e, &m.Base, "", nil)
}

// syslogCheck3164Start checks that an RFC 3164 line begins with a time, a
// month's name or an RFC 3339 year, after its PRI if it has one: go-syslog's
// machine, with its Cisco extensions, names a sequence number as what it
// expected otherwise.
func syslogCheck3164Start(line string) error {
	s := line
	if len(s) > 0 && s[0] == '<' {
		i := strings.IndexByte(s, '>')
		if i < 0 {
			return fmt.Errorf("rfc3164: expecting a priority value within angle brackets [col 0]")
		}
		s = strings.TrimLeft(s[i+1:], " ")
	}
	if len(s) >= 4 && (slices.Contains(nginxMonths[:], s[:3]) && s[3] == ' ' || presetDigits(s[:4]) && len(s) > 4 && s[4] == '-') {
		return nil
	}
	return fmt.Errorf("rfc3164: expecting a timestamp (Jan _2 15:04:05 or RFC 3339) [col %d]", len(line)-len(s))
}

// syslogEmptyMsg reports whether line ends with its TAG ("app:" or
// "app[pid]:", then spaces or nothing): a TAG that is not itself the MSG of
// a line whose MSG looks like a TAG ("web1 app: app:").
func syslogEmptyMsg(line, app string, pid *string) bool {
	line = strings.TrimRight(line, " ")
	if !strings.HasSuffix(line, ":") {
		return false
	}
	tag := app + ":"
	if pid != nil {
		tag = app + "[" + *pid + "]:"
	}
	before, ok := strings.CutSuffix(line, tag)
	return ok && strings.HasSuffix(before, " ") && !strings.HasSuffix(strings.TrimRight(before, " "), ":")
}

// syslogBadByte describes the first control character of line.
func syslogBadByte(line string) string {
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Sprintf("a control character (0x%02x) in the message [col %d]", c, i)
		}
	}
	return "the message does not end as RFC 3164 says"
}

func (p *syslogProc) rfc5424(e *Event, line string) error {
	msg, err := rfc5424.NewMachine(p.opts5424...).Parse([]byte(line))
	if err != nil {
		return fmt.Errorf("rfc5424: %w", err)
	}
	if msg == nil {
		return fmt.Errorf("rfc5424: not a syslog message")
	}
	m := msg.(*rfc5424.SyslogMessage)
	if m.Message != nil {
		// RFC 5424 section 6.4: a MSG in UTF-8 starts with a BOM.
		s := strings.TrimPrefix(*m.Message, "\ufeff")
		m.Message = &s
	}
	var sd map[string]any
	if m.StructuredData != nil {
		sd = make(map[string]any, len(*m.StructuredData))
		for id, params := range *m.StructuredData {
			pm := make(map[string]any, len(params))
			for k, v := range params {
				pm[k] = v
			}
			sd[id] = pm
		}
	}
	return syslogApply(e, &m.Base, strconv.Itoa(int(m.Version)), sd)
}

// syslogApply puts the parts of m that the line has into e. version is
// RFC 5424's ("" for RFC 3164), sd its structured data (nil for none).
func syslogApply(e *Event, m *syslog.Base, version string, sd map[string]any) error {
	var err error
	put := func(path string, v any) {
		if err == nil {
			err = e.Put(path, v)
		}
	}
	if m.Priority != nil {
		put("log.syslog.priority", int64(*m.Priority))
		put("log.syslog.facility.code", int64(*m.Facility))
		put("log.syslog.facility.name", syslogFacilities[*m.Facility])
		put("log.syslog.severity.code", int64(*m.Severity))
		put("log.syslog.severity.name", syslogSeverities[*m.Severity])
	}
	if version != "" {
		put("log.syslog.version", version)
	}
	if m.Hostname != nil {
		put("host.hostname", *m.Hostname)
	}
	if m.Appname != nil {
		put("process.name", *m.Appname)
	}
	if m.ProcID != nil {
		if pid, perr := strconv.ParseInt(*m.ProcID, 10, 64); perr == nil && presetDigits(*m.ProcID) {
			put("process.pid", pid)
		} else {
			put("log.syslog.procid", *m.ProcID)
		}
	}
	if m.MsgID != nil {
		put("log.syslog.msgid", *m.MsgID)
	}
	if sd != nil {
		put("log.syslog.structured_data", sd)
	}
	message := ""
	if m.Message != nil {
		message = *m.Message
	}
	put("message", message)
	if err != nil {
		return err
	}
	if m.Timestamp != nil {
		e.SetTimestamp(*m.Timestamp)
	}
	return nil
}

// syslogFacilities and syslogSeverities are the keywords of RFC 5427's
// SyslogFacility and SyslogSeverity, the names syslog.conf and rsyslog use.
// PRI is at most 191, so facility codes end at 23.
var (
	syslogFacilities = [24]string{
		"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
		"uucp", "cron", "authpriv", "ftp", "ntp", "audit", "console", "cron2",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
	}
	syslogSeverities = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}
)
