package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedactURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://elastic:s3cret@es:9200", "https://elastic:xxxxx@es:9200"},
		{"http://es:9200", "http://es:9200"},
		{"http://user@es:9200/p", "http://user@es:9200/p"},
		{"127.0.0.1:2379", "127.0.0.1:2379"},
		{"http://es:9200/a@b", "http://es:9200/a@b"},
		{"http://u:pa%zz@es:9200", "http://xxxxx@es:9200"}, // does not parse
		{"ftp://u:pa ss@h:1/x", "ftp://xxxxx@h:1/x"},       // does not parse
		{"u:s3cret@kafka:9092", "xxxxx@kafka:9092"},        // parses as scheme u, opaque
		{"not a url at all", "not a url at all"},           // does not parse, no user info
		{"u:pa/ss@kafka:9092", "xxxxx@kafka:9092"},         // a / in the password
	} {
		require.Equal(t, tt.want, RedactURL(tt.in), tt.in)
	}
	require.Equal(t, []string{"http://a:xxxxx@h", "http://h"}, RedactURLs([]string{"http://a:b@h", "http://h"}))
}

func TestIsSecretField(t *testing.T) {
	for field, want := range map[string]bool{
		"kafka.sasl.password": true, "etcd.password": true, "elasticsearch.api_key": true,
		"influx.token": true, "sysmon.influx.token": true, "x.tokens[0]": false, "secret": true,
		"kafka.sasl.username": false, "influx.url": false, "etcd.tls.key_file": false, "host": false,
	} {
		require.Equal(t, want, IsSecretField(field), field)
	}
}

func TestShowValueAndBadValue(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pw, []byte("from-a-file-4e1b\n"), 0o600))
	short := filepath.Join(t.TempDir(), "short")
	require.NoError(t, os.WriteFile(short, []byte("abc\n"), 0o600))
	_, err := ExpandEnv([]byte("a: ${file:"+pw+"}\nb: ${file:"+short+"}\n"), os.LookupEnv)
	require.NoError(t, err)

	tests := []struct {
		name  string
		field string
		value any
		want  string // the BadValue error
	}{
		{name: "plain string", field: "log.level", value: "loud", want: `log.level "loud": bad`},
		{name: "number", field: "bulk.actions", value: -1, want: `bulk.actions -1: bad`},
		{name: "url with a password", field: "influx.url", value: "ftp://u:pw@h", want: `influx.url "ftp://u:xxxxx@h": bad`},
		{name: "secret field", field: "kafka.sasl.password", value: "hunter2", want: `kafka.sasl.password (secret value not shown): bad`},
		{name: "secret field, not a string", field: "x.token", value: 42, want: `x.token (secret value not shown): bad`},
		{name: "value from a file", field: "host.ip", value: "from-a-file-4e1b", want: `host.ip (secret value not shown): bad`},
		{name: "value holding one from a file", field: "influx.url", value: "http://h/from-a-file-4e1b", want: `influx.url (secret value not shown): bad`},
		{name: "short value from a file, equal", field: "log.format", value: "abc", want: `log.format (secret value not shown): bad`},
		{name: "short value from a file, inside: shown", field: "log.format", value: "abcd", want: `log.format "abcd": bad`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs Errors
			errs.BadValue(tt.field, tt.value, "bad")
			require.EqualError(t, errs.Err(), tt.want)
		})
	}

	require.EqualError(t, WithoutFileSecrets(errors.New(`line 3: invalid duration "from-a-file-4e1b"`)), `line 3: invalid duration "xxxxx"`)
	plain := errors.New("nothing secret: abcd")
	require.Same(t, plain, WithoutFileSecrets(plain))
	require.NoError(t, WithoutFileSecrets(nil))
}

func TestParseURL(t *testing.T) {
	_, err := ParseURL("http://u:pa%zz@h:1")
	require.EqualError(t, err, "not a valid URL", "no reason: it could quote the password")
	_, err = ParseURL("http://h:1%zz")
	require.ErrorContains(t, err, "not a valid URL: ")
	u, err := ParseURL("https://u:p@h:1/x")
	require.NoError(t, err)
	require.Equal(t, "h:1", u.Host)
}
