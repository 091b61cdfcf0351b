package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedactURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://elastic:s3cret@es:9200", "https://elastic:xxxxx@es:9200"},
		{"http://es:9200", "http://es:9200"},
		{"http://user@es:9200/p", "http://user@es:9200/p"},
		{"127.0.0.1:2379", "127.0.0.1:2379"},
	} {
		require.Equal(t, tt.want, RedactURL(tt.in), tt.in)
	}
	require.Equal(t, []string{"http://a:xxxxx@h", "http://h"}, RedactURLs([]string{"http://a:b@h", "http://h"}))
}
