package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// RedactURL returns s with the password of its user info, if any, replaced
// by "xxxxx" (url.URL.Redacted), for logs and messages: a URL such as
// https://elastic:secret@es:9200 carries credentials. A string that does
// not parse as a URL but has user info (text before an @, after any
// scheme://), such as http://u:pa ss@h or u:secret@kafka:9092, has all of it
// replaced: "http://xxxxx@h".
func RedactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	} else if err == nil && u.Opaque == "" { // u:pw@kafka:9092 parses, as scheme u and opaque pw@kafka:9092
		return s
	}
	prefix, rest := "", s
	if i := strings.Index(s, "://"); i >= 0 {
		prefix, rest = s[:i+3], s[i+3:]
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return prefix + "xxxxx" + rest[at:]
	}
	return s
}

// RedactURLs is RedactURL for each of urls.
func RedactURLs(urls []string) []string {
	out := make([]string, len(urls))
	for i, s := range urls {
		out[i] = RedactURL(s)
	}
	return out
}

// secretWords are the last words of the config fields that hold secrets.
var secretWords = []string{"password", "token", "api_key", "apikey", "secret", "credentials"}

// IsSecretField reports whether the config field at path (such as
// "kafka.sasl.password" or "elasticsearch.api_key") holds a secret, whose
// value messages must never show.
func IsSecretField(path string) bool {
	last := strings.ToLower(path[strings.LastIndexByte(path, '.')+1:])
	if i := strings.IndexByte(last, '['); i >= 0 {
		last = last[:i]
	}
	for _, w := range secretWords {
		if strings.HasSuffix(last, w) {
			return true
		}
	}
	return false
}

// fileSecrets are the values read by ${file:PATH} in this process: secrets,
// whichever field they were put in.
var fileSecrets struct {
	sync.Mutex
	values map[string]struct{}
}

func addFileSecret(v string) {
	if v == "" {
		return
	}
	fileSecrets.Lock()
	defer fileSecrets.Unlock()
	if fileSecrets.values == nil {
		fileSecrets.values = make(map[string]struct{})
	}
	fileSecrets.values[v] = struct{}{}
}

// minContained is the length from which a ${file:} secret is looked for inside
// a longer value (a URL, say); a shorter one hides only a value equal to it.
const minContained = 6

// holdsFileSecret reports whether s is, or contains, a value read by ${file:}.
func holdsFileSecret(s string) bool {
	fileSecrets.Lock()
	defer fileSecrets.Unlock()
	for v := range fileSecrets.values {
		if s == v || (len(v) >= minContained && strings.Contains(s, v)) {
			return true
		}
	}
	return false
}

// hiddenValue stands for a value that messages must not show.
const hiddenValue = "(secret value not shown)"

// ShowValue returns how the value of the field at path may appear in a
// message: hiddenValue for a secret field (IsSecretField) or a string that
// holds a value read by ${file:}; a string quoted, with the password of a URL
// replaced (RedactURL); anything else as %v prints it.
func ShowValue(path string, value any) any {
	s, ok := value.(string)
	switch {
	case IsSecretField(path) || (ok && holdsFileSecret(s)):
		return hiddenValue
	case ok:
		return strconv.Quote(RedactURL(s))
	}
	return value
}

// WithoutFileSecrets returns err, or, when its message holds a value read by
// ${file:} (a YAML error quoting the line, say), an error with the same
// message where each such value is replaced by xxxxx.
func WithoutFileSecrets(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	fileSecrets.Lock()
	defer fileSecrets.Unlock()
	clean := msg
	for v := range fileSecrets.values {
		if len(v) >= minContained || clean == v {
			clean = strings.ReplaceAll(clean, v, "xxxxx")
		}
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

// ParseURL is url.Parse with an error that never shows s, which may hold a
// password: "not a valid URL: <reason>", without the reason when s has user
// info (an @), as the reason may quote part of it.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err == nil {
		return u, nil
	}
	if ue, ok := errors.AsType[*url.Error](err); ok && !strings.Contains(s, "@") {
		return nil, fmt.Errorf("not a valid URL: %w", ue.Err)
	}
	return nil, errors.New("not a valid URL")
}
