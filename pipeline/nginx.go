package pipeline

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The nginx preset parses nginx's access log in its default "combined"
// format and its error log into the ECS fields of Filebeat's nginx module,
// and takes @timestamp from the line:
//
//	nginx: {format: auto, field: message, timezone: UTC}
//
// format is access, error or auto (the default): auto reads a line that
// begins with the error log's "2006/01/02 15:04:05 " as an error line and
// any other as an access line, so one pipeline serves both files. field is
// the field holding the line (default message). timezone is the zone of the
// error log's times, which nginx writes in its local time without a zone
// (default UTC); access times carry their offset.
//
// Access lines (http://nginx.org/en/docs/http/ngx_http_log_module.html#log_format):
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//
// give source.address, source.ip (when $remote_addr is an IPv4 or IPv6
// address), user.name, http.request.method, url.original, http.version,
// http.response.status_code and http.response.body.bytes (integers),
// http.request.referrer, user_agent.original and @timestamp; message stays
// the whole line. A "-" is no value: the field is left out. Fields that
// some configurations append after the user agent ($request_time,
// $http_x_forwarded_for, ...) are ignored, and a line that ends after
// $body_bytes_sent (the common log format) has no referrer nor user agent.
// Quoted values are kept as written: nginx escapes '"', '\' and control
// bytes as \xXX, Apache writes \" and \\, and both are skipped over when
// looking for the closing quote but not decoded.
//
// As in Filebeat, $request gives the method, URL and version only when it
// is "METHOD URI HTTP/VERSION"; anything else (an empty "-", the TLS
// handshake a scanner sends to a plain-HTTP port, "\x16\x03\x01...") leaves
// them out and the rest of the line is still parsed.
//
// Error lines (ngx_log_error_core in src/core/ngx_log.c):
//
//	2026/12/07 10:00:00 [error] 123#456: *7 open() "/x" failed (2: No such file or directory), client: 1.2.3.4, server: x, request: "GET /x HTTP/1.1", host: "y"
//
// give log.level, process.pid, process.thread.id, nginx.error.connection_id
// (the *N, when there is one), message (the text after it) and @timestamp.
type nginxProc struct {
	field  string
	format string // nginxAccess, nginxError or nginxAuto
	loc    *time.Location
}

const (
	nginxAuto   = "auto"
	nginxAccess = "access"
	nginxError  = "error"
)

func init() { register("nginx", newNginx) }

func newNginx(pc ProcessorConfig) (Processor, error) {
	field, format, loc, err := presetFormat(pc, nginxAuto, nginxAccess, nginxError)
	if err != nil {
		return nil, err
	}
	return &nginxProc{field: field, format: format, loc: loc}, nil
}

func (p *nginxProc) Process(e *Event) error {
	line, err := presetLine(e, p.field)
	if err != nil {
		return err
	}
	if p.format == nginxError || (p.format == nginxAuto && isNginxErrorLine(line)) {
		l, err := parseNginxError(line, p.loc)
		if err != nil {
			return err
		}
		return l.apply(e)
	}
	a, err := parseNginxAccess(line)
	if err != nil {
		return err
	}
	return a.apply(e)
}

// nginxAccessLine is an access line, parsed; empty strings and false has*
// are the values the line does not have.
type nginxAccessLine struct {
	remoteAddr, remoteUser       string
	time                         time.Time
	method, url, version         string
	status, bytes                int64
	hasStatus, hasBytes          bool
	referrer, userAgent, request string
}

// The errors of access lines name the first part that did not match.
var (
	errNginxAccessStart   = errors.New(`access log: expected "$remote_addr - $remote_user [" at the start`)
	errNginxAccessTime    = errors.New("access log: no ] after [$time_local")
	errNginxAccessRequest = errors.New(`access log: expected "$request" after [$time_local]`)
	errNginxAccessStatus  = errors.New(`access log: expected $status $body_bytes_sent after "$request"`)
	errNginxAccessQuote   = errors.New("access log: a quoted field has no closing quote")
)

// parseNginxAccess parses a combined (or common) access line. It allocates
// nothing on success: the strings are slices of line.
func parseNginxAccess(line string) (nginxAccessLine, error) {
	var a nginxAccessLine
	addr, s, ok := strings.Cut(line, " - ")
	if !ok || addr == "" || strings.IndexByte(addr, ' ') >= 0 {
		return a, errNginxAccessStart
	}
	a.remoteAddr = addr
	// $remote_user is not escaped by nginx and may hold spaces: it ends at
	// " [".
	user, s, ok := strings.Cut(s, " [")
	if !ok {
		return a, errNginxAccessStart
	}
	a.remoteUser = user
	ts, s, ok := strings.Cut(s, "]")
	if !ok {
		return a, errNginxAccessTime
	}
	t, ok := parseNginxTime(ts)
	if !ok {
		return a, fmt.Errorf("access log: $time_local %q is not 02/Jan/2006:15:04:05 -0700", ts)
	}
	a.time = t
	if !strings.HasPrefix(s, ` "`) {
		return a, errNginxAccessRequest
	}
	req, s, ok := nginxCutQuoted(s[2:])
	if !ok {
		return a, errNginxAccessQuote
	}
	a.request = req
	a.method, a.url, a.version = splitNginxRequest(req)

	if a.status, a.hasStatus, s, ok = nginxNumber(s); !ok {
		return a, errNginxAccessStatus
	}
	if a.bytes, a.hasBytes, s, ok = nginxNumber(s); !ok {
		return a, errNginxAccessStatus
	}
	// The referrer and user agent, when the line has them (the common log
	// format has not), then whatever a configuration appends.
	if a.referrer, s, ok = nginxOptionalQuoted(s); !ok {
		return a, errNginxAccessQuote
	}
	if a.userAgent, _, ok = nginxOptionalQuoted(s); !ok {
		return a, errNginxAccessQuote
	}
	return a, nil
}

// nginxNumber reads ` <digits>` or ` -` (no value: has is false) from the
// start of s.
func nginxNumber(s string) (n int64, has bool, rest string, ok bool) {
	if len(s) < 2 || s[0] != ' ' {
		return 0, false, s, false
	}
	tok, rest := nginxCutToken(s[1:])
	if tok == "-" {
		return 0, false, rest, true
	}
	n, err := strconv.ParseInt(tok, 10, 64)
	if err != nil || !presetDigits(tok) {
		return 0, false, s, false
	}
	return n, true, rest, true
}

// nginxOptionalQuoted reads ` "<text>"` from the start of s, if s starts so;
// ok is false when the closing quote is missing.
func nginxOptionalQuoted(s string) (text, rest string, ok bool) {
	if !strings.HasPrefix(s, ` "`) {
		return "", s, true
	}
	return nginxCutQuoted(s[2:])
}

func (a *nginxAccessLine) apply(e *Event) error {
	s := fieldSetter{e: e}
	put := s.put
	if a.remoteAddr != "-" {
		put("source.address", a.remoteAddr)
		if ip, perr := netip.ParseAddr(a.remoteAddr); perr == nil && ip.Zone() == "" {
			put("source.ip", a.remoteAddr)
		}
	}
	if a.remoteUser != "-" && a.remoteUser != "" {
		put("user.name", a.remoteUser)
	}
	if a.method != "" {
		put("http.request.method", a.method)
		put("url.original", a.url)
		put("http.version", a.version)
	}
	if a.hasStatus {
		put("http.response.status_code", a.status)
	}
	if a.hasBytes {
		put("http.response.body.bytes", a.bytes)
	}
	if a.referrer != "-" && a.referrer != "" {
		put("http.request.referrer", a.referrer)
	}
	if a.userAgent != "-" && a.userAgent != "" {
		put("user_agent.original", a.userAgent)
	}
	if s.err != nil {
		return s.err
	}
	e.SetTimestamp(a.time)
	return nil
}

// nginxCutQuoted returns the text of s up to its first unescaped '"' and what
// follows that quote; a backslash escapes the byte after it.
func nginxCutQuoted(s string) (text, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// nginxCutToken returns s up to its first space, and the rest from that space.
func nginxCutToken(s string) (tok, rest string) {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// splitNginxRequest splits "METHOD URI HTTP/VERSION" as Filebeat's grok
// `%{WORD} %{DATA} HTTP/%{NUMBER}` does: the method is a word, the URI is
// anything (it may hold spaces, as nginx logs what the client sent) and the
// version a number. Another request gives three empty strings.
func splitNginxRequest(req string) (method, uri, version string) {
	i := strings.IndexByte(req, ' ')
	j := strings.LastIndexByte(req, ' ')
	if i <= 0 || j <= i+1 {
		return "", "", ""
	}
	method, uri, proto := req[:i], req[i+1:j], req[j+1:]
	version, ok := strings.CutPrefix(proto, "HTTP/")
	if !ok || !nginxIsWord(method) || !nginxIsNumber(version) {
		return "", "", ""
	}
	return method, uri, version
}

// nginxIsWord reports whether s is a grok WORD: [A-Za-z0-9_]+.
func nginxIsWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// nginxIsNumber reports whether s is digits with an optional fraction, as
// HTTP versions are: 1.1, 2.0, 3.
func nginxIsNumber(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	return presetDigits(whole) && (!dot || presetDigits(frac))
}

// nginxMonths are the month names of $time_local (and of RFC 3164), which
// nginx writes in
// English whatever the locale.
var nginxMonths = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseNginxTime parses $time_local, FormatNginx (07/Dec/2026:10:00:00
// +0100), as time.Parse would but without allocating: time.Parse makes a
// time.Location for each offset other than the machine's, and this runs for
// every access line.
func parseNginxTime(s string) (time.Time, bool) {
	// 0         1         2
	// 01234567890123456789012345
	// 07/Dec/2026:10:00:00 +0100
	if len(s) != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' || s[20] != ' ' {
		return time.Time{}, false
	}
	month := 0
	for i, name := range nginxMonths {
		if s[3:6] == name {
			month = i + 1
			break
		}
	}
	day, ok1 := nginxTwoDigits(s[0:2])
	hour, ok2 := nginxTwoDigits(s[12:14])
	minute, ok3 := nginxTwoDigits(s[15:17])
	sec, ok4 := nginxTwoDigits(s[18:20])
	y1, ok5 := nginxTwoDigits(s[7:9])
	y2, ok6 := nginxTwoDigits(s[9:11])
	oh, ok7 := nginxTwoDigits(s[22:24])
	om, ok8 := nginxTwoDigits(s[24:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) || month == 0 ||
		hour > 23 || minute > 59 || sec > 59 || oh > 23 || om > 59 || (s[21] != '+' && s[21] != '-') {
		return time.Time{}, false
	}
	year := y1*100 + y2
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if day == 0 || t.Day() != day { // 31/Apr would become 1 May
		return time.Time{}, false
	}
	offset := time.Duration(oh)*time.Hour + time.Duration(om)*time.Minute
	if s[21] == '-' {
		offset = -offset
	}
	return t.Add(-offset), true
}

func nginxTwoDigits(s string) (int, bool) {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

// nginxErrorLayout is the time of error lines, local time without a zone.
const nginxErrorLayout = "2006/01/02 15:04:05"

// isNginxErrorLine reports whether line begins as an error line does:
// "2006/01/02 15:04:05 ". An access line begins with an address.
func isNginxErrorLine(line string) bool {
	return len(line) > len(nginxErrorLayout) && line[4] == '/' && line[7] == '/' && line[10] == ' ' &&
		line[13] == ':' && line[16] == ':' && line[19] == ' ' && presetDigits(line[:4])
}

// nginxErrorLine is an error line, parsed.
type nginxErrorLine struct {
	time          time.Time
	level         string
	pid, tid      int64
	connection    int64
	hasConnection bool
	message       string
}

var (
	errNginxErrorStart = errors.New(`error log: expected "2006/01/02 15:04:05 [level] pid#tid: " at the start`)
	errNginxErrorLevel = errors.New("error log: expected [level] after the time")
	errNginxErrorPID   = errors.New("error log: expected pid#tid: after [level]")
)

// parseNginxError parses an error line; its time is in loc.
func parseNginxError(line string, loc *time.Location) (nginxErrorLine, error) {
	var l nginxErrorLine
	if !isNginxErrorLine(line) {
		return l, errNginxErrorStart
	}
	t, err := time.ParseInLocation(nginxErrorLayout, line[:len(nginxErrorLayout)], loc)
	if err != nil {
		return l, fmt.Errorf("error log: time %q: not %s", line[:len(nginxErrorLayout)], nginxErrorLayout)
	}
	l.time = t
	s, ok := strings.CutPrefix(line[len(nginxErrorLayout):], " [")
	if !ok {
		return l, errNginxErrorLevel
	}
	if l.level, s, ok = strings.Cut(s, "] "); !ok || !nginxIsWord(l.level) {
		return l, errNginxErrorLevel
	}
	ids, s, ok := strings.Cut(s, ": ")
	if !ok {
		// "... 1#1:" and nothing after: a message nginx left empty (Cut
		// gave the whole rest as ids).
		if ids, ok = strings.CutSuffix(ids, ":"); !ok {
			return l, errNginxErrorPID
		}
	}
	pid, tid, ok := strings.Cut(ids, "#")
	if !ok {
		return l, errNginxErrorPID
	}
	if l.pid, err = strconv.ParseInt(pid, 10, 64); err != nil || !presetDigits(pid) {
		return l, errNginxErrorPID
	}
	if l.tid, err = strconv.ParseInt(tid, 10, 64); err != nil || !presetDigits(tid) {
		return l, errNginxErrorPID
	}
	// "*7 " is the connection the message is about, when there is one.
	if rest, ok := strings.CutPrefix(s, "*"); ok {
		if conn, msg, ok := strings.Cut(rest, " "); ok && presetDigits(conn) {
			if n, err := strconv.ParseInt(conn, 10, 64); err == nil {
				l.connection, l.hasConnection, s = n, true, msg
			}
		}
	}
	l.message = s
	return l, nil
}

func (l *nginxErrorLine) apply(e *Event) error {
	var err error
	put := func(path string, v any) {
		if err == nil {
			err = e.Put(path, v)
		}
	}
	put("log.level", l.level)
	put("process.pid", l.pid)
	put("process.thread.id", l.tid)
	if l.hasConnection {
		put("nginx.error.connection_id", l.connection)
	}
	put("message", l.message)
	if err != nil {
		return err
	}
	e.SetTimestamp(l.time)
	return nil
}
