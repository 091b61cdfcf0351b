package esclient

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/config"
)

func TestValidate(t *testing.T) {
	tls := func(ca string) config.TLSConfig { return config.TLSConfig{Enabled: true, CAFile: ca} }
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // nil: valid
	}{
		{name: "http", cfg: Config{URLs: []string{"http://es:9200"}}},
		{name: "https, system roots", cfg: Config{URLs: []string{"https://es:9200"}}},
		{name: "tls block", cfg: Config{URLs: []string{"https://es:9200"}, TLS: tls("/ca.pem")}},
		{name: "flat ca_file", cfg: Config{URLs: []string{"https://es:9200"}, CAFile: "/ca.pem"}},
		{name: "both, same file", cfg: Config{URLs: []string{"https://es:9200"}, CAFile: "/ca.pem", TLS: tls("/ca.pem")}},
		{name: "both, other files", cfg: Config{URLs: []string{"https://es:9200"}, CAFile: "/a.pem", TLS: tls("/b.pem")},
			wantErr: []string{"elasticsearch.ca_file: elasticsearch.tls.ca_file is also set, to another file: set elasticsearch.tls.ca_file only"}},
		{name: "tls without enabled", cfg: Config{URLs: []string{"https://es:9200"}, TLS: config.TLSConfig{CAFile: "/ca.pem"}},
			wantErr: []string{"elasticsearch.tls.ca_file: set but elasticsearch.tls.enabled is false"}},
		{name: "tls with http URLs", cfg: Config{URLs: []string{"http://es:9200"}, CAFile: "/ca.pem"},
			wantErr: []string{"elasticsearch.tls.enabled: TLS needs https:// URLs"}},
		{name: "no URL", wantErr: []string{"elasticsearch.urls: at least one URL is required"}},
		{name: "bad URLs", cfg: Config{URLs: []string{"es:9200", "ftp://es", "http://"}}, wantErr: []string{
			`elasticsearch.urls[0] "es:9200": must be http(s)://host:port`,
			`elasticsearch.urls[1] "ftp://es": must be http(s)://host:port`,
			`elasticsearch.urls[2] "http://": must be http(s)://host:port`,
		}},
		{name: "password alone", cfg: Config{URLs: []string{"http://es:9200"}, Password: "p"},
			wantErr: []string{"elasticsearch.username: required when elasticsearch.password is set"}},
		{name: "api key and user", cfg: Config{URLs: []string{"http://es:9200"}, Username: "u", APIKey: "k"},
			wantErr: []string{"elasticsearch.api_key: set api_key or username/password, not both"}},
		{name: "negative timeout", cfg: Config{URLs: []string{"http://es:9200"}, Timeout: -1},
			wantErr: []string{"elasticsearch.timeout -1ns: must be > 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs config.Errors
			tt.cfg.Validate("elasticsearch", &errs)
			if tt.wantErr == nil {
				require.NoError(t, errs.Err())
				return
			}
			require.Len(t, errs, len(tt.wantErr), "%v", errs.Err())
			for _, w := range tt.wantErr {
				require.ErrorContains(t, errs.Err(), w)
			}
		})
	}
}
