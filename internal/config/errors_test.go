package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestErrors(t *testing.T) {
	var errs Errors
	require.NoError(t, errs.Err())
	errs.Addf("a.b", "required (%s)", "x")
	errs.BadValue("a.c", "v", "must be %d", 1)
	errs.BadValue("a.d", -1, "must be > 0")
	errs.NonNegative("a.e", Duration(-time.Second))
	errs.NonNegative("a.f", 0)
	require.EqualError(t, errs.Err(), "a.b: required (x)\n"+`a.c "v": must be 1`+"\na.d -1: must be > 0\na.e -1s: must be >= 0")
}

func TestSetDefault(t *testing.T) {
	s, n := "", 3
	SetDefault(&s, "def")
	SetDefault(&n, 5)
	require.Equal(t, "def", s)
	require.Equal(t, 3, n)
}

func TestCheckHostPort(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		listen  bool
		wantErr string
	}{
		{name: "host and port", addr: "k:9092"},
		{name: "ipv6", addr: "[::1]:9092"},
		{name: "no port", addr: "kafka", wantErr: "must be host:port: missing port in address"},
		{name: "no host", addr: ":9092", wantErr: "must be host:port: missing host"},
		{name: "bad port", addr: "k:kafka", wantErr: `must be host:port: invalid port "kafka"`},
		{name: "port too large", addr: "k:65536", wantErr: `must be host:port: invalid port "65536"`},
		{name: "port 0", addr: "k:0", wantErr: `must be host:port: invalid port "0"`},
		{name: "listen on all interfaces", addr: ":9101", listen: true},
		{name: "listen on any port", addr: "127.0.0.1:0", listen: true},
		{name: "listen without port", addr: "9101", listen: true, wantErr: "must be host:port: missing port in address"},
		{name: "listen bad port", addr: ":-1", listen: true, wantErr: `must be host:port: invalid port "-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckHostPort(tt.addr, tt.listen)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}
