package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/sysmon"
	"github.com/logcollect/logcollect/transfer"
)

// TestValidationErrorsHideSecrets loads, with each binary's own loader, configs whose
// validation fails on or next to a secret: a password, token or API key, a URL with a
// password, or a value read by ${file:}. The error must name the field and say what is
// wrong, and never show the secret.
func TestValidationErrorsHideSecrets(t *testing.T) {
	// secret is written in the configs; fileSecret is read by ${file:}, which makes it a
	// secret wherever it lands.
	const secret, fileSecret = "S3CRET-redact-7f3a", "S3CRET-file-91c2"
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(fileSecret+"\n"), 0o600))
	fromFile := "${file:" + secretFile + "}"

	load := map[string]func(path string) error{
		"agent":    func(p string) error { _, err := agent.LoadConfig(p); return err },
		"transfer": func(p string) error { _, err := transfer.LoadConfig(p); return err },
		"sysmon":   func(p string) error { _, err := sysmon.LoadConfig(p); return err },
	}
	const agentBase = "kafka:\n  brokers: [\"k:9092\"]\n"
	const transferBase = "kafka:\n  brokers: [\"k:9092\"]\n  topics: [t]\nelasticsearch:\n  urls: [\"http://es:9200\"]\n"
	tests := []struct {
		name, binary, yaml string
		want               string // in the error
	}{
		// logagent
		{name: "sasl password without mechanism", binary: "agent",
			yaml: agentBase + "  sasl:\n    username: u\n    password: " + secret + "\n",
			want: "kafka.sasl.mechanism: must be set when kafka.sasl.username or password is set"},
		{name: "sasl password with a bad mechanism", binary: "agent",
			yaml: agentBase + "  sasl:\n    mechanism: GSSAPI\n    username: u\n    password: " + secret + "\n",
			want: `kafka.sasl.mechanism "GSSAPI": must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`},
		{name: "sasl password from a file without mechanism", binary: "agent",
			yaml: agentBase + "  sasl:\n    password: " + fromFile + "\n",
			want: "kafka.sasl.mechanism: must be set"},
		{name: "etcd password without username", binary: "agent",
			yaml: agentBase + "etcd:\n  endpoints: [\"etcd:2379\"]\n  password: " + secret + "\n",
			want: "etcd.username: required when etcd.password is set"},
		{name: "etcd endpoint with a password and a bad scheme", binary: "agent",
			yaml: agentBase + "etcd:\n  endpoints: [\"ftp://root:" + secret + "@etcd:2379\"]\n",
			want: `etcd.endpoints[0] "ftp://root:xxxxx@etcd:2379": scheme "ftp": must be http, https, unix or unixs`},
		{name: "etcd endpoint with a password that does not parse", binary: "agent",
			yaml: agentBase + "etcd:\n  endpoints: [\"http://root:" + secret + "%zz@etcd:2379\"]\n",
			want: `etcd.endpoints[0] "http://xxxxx@etcd:2379": not a valid URL`},
		{name: "broker with user info", binary: "agent",
			yaml: "kafka:\n  brokers: [\"u:" + secret + "@kafka:9092\"]\n",
			want: `kafka.brokers[0] "xxxxx@kafka:9092": must be host:port`},
		{name: "a value from a file in a checked field", binary: "agent",
			yaml: agentBase + "host:\n  ip: " + fromFile + "\n",
			want: "host.ip (secret value not shown): not an IP address"},
		// logtransfer
		{name: "elasticsearch url with a password and a bad scheme", binary: "transfer",
			yaml: "kafka:\n  brokers: [\"k:9092\"]\n  topics: [t]\nelasticsearch:\n  urls: [\"ftp://elastic:" + secret + "@es:9200\"]\n",
			want: `elasticsearch.urls[0] "ftp://elastic:xxxxx@es:9200": must be http(s)://host:port`},
		{name: "elasticsearch url with a password that does not parse", binary: "transfer",
			yaml: "kafka:\n  brokers: [\"k:9092\"]\n  topics: [t]\nelasticsearch:\n  urls: [\"http://elastic:" + secret + "%zz@es:9200\"]\n",
			want: `elasticsearch.urls[0] "http://xxxxx@es:9200": must be http(s)://host:port`},
		{name: "elasticsearch password without username", binary: "transfer",
			yaml: transferBase + "  password: " + secret + "\n",
			want: "elasticsearch.username: required when elasticsearch.password is set"},
		{name: "elasticsearch api key and username", binary: "transfer",
			yaml: transferBase + "  username: u\n  api_key: " + secret + "\n",
			want: "elasticsearch.api_key: set api_key or username/password, not both"},
		{name: "transfer sasl password without mechanism", binary: "transfer",
			yaml: "kafka:\n  brokers: [\"k:9092\"]\n  topics: [t]\n  sasl:\n    password: " + fromFile + "\nelasticsearch:\n  urls: [\"http://es:9200\"]\n",
			want: "kafka.sasl.mechanism: must be set"},
		{name: "etcd password from a file without username", binary: "transfer",
			yaml: transferBase + "etcd:\n  endpoints: [\"etcd:2379\"]\n  password: " + fromFile + "\n",
			want: "etcd.username: required when etcd.password is set"},
		{name: "a value from a file in the index", binary: "transfer",
			yaml: transferBase + "index: " + fromFile + "{nope}\n",
			want: `index (secret value not shown): "xxxxx": index names are lower case`},
		// sysmon
		{name: "influx url with a password and a bad scheme", binary: "sysmon",
			yaml: "influx:\n  url: ftp://admin:" + secret + "@influx:8086\n  bucket: b\n",
			want: `influx.url "ftp://admin:xxxxx@influx:8086": scheme must be http or https`},
		{name: "influx url with a password that does not parse", binary: "sysmon",
			yaml: "influx:\n  url: http://admin:" + secret + "%zz@influx:8086\n  bucket: b\n",
			want: `influx.url "http://xxxxx@influx:8086": not a valid URL`},
		{name: "influx token with an url missing its bucket", binary: "sysmon",
			yaml: "influx:\n  url: https://influx:8086\n  token: " + fromFile + "\n",
			want: "influx.bucket: required"},
		{name: "a value from a file in metrics.listen", binary: "sysmon",
			yaml: "metrics:\n  listen: " + fromFile + "\n",
			want: "metrics.listen (secret value not shown): must be host:port"},
		{name: "a value from a file in a duration (a YAML error)", binary: "sysmon",
			yaml: "interval: " + fromFile + "\n",
			want: `invalid duration: time: invalid duration "xxxxx"`},
	}
	for _, tt := range tests {
		t.Run(tt.binary+"/"+tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.yaml), 0o600))
			err := load[tt.binary](path)
			require.Error(t, err)
			require.ErrorContains(t, err, tt.want)
			for _, s := range []string{secret, fileSecret} {
				for _, part := range []string{s, s[:8], s[8:]} { // nor a part of it
					require.False(t, strings.Contains(err.Error(), part), fmt.Sprintf("the error shows %q: %v", part, err))
				}
			}
		})
	}
}
