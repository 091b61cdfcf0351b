package config

import "net/url"

// RedactURL returns s with the password of its user info, if any, replaced
// by "xxxxx" (url.URL.Redacted), for logs and messages: a URL such as
// https://elastic:secret@es:9200 carries credentials. A string that does
// not parse is returned as it is.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// RedactURLs is RedactURL for each of urls.
func RedactURLs(urls []string) []string {
	out := make([]string, len(urls))
	for i, s := range urls {
		out[i] = RedactURL(s)
	}
	return out
}
