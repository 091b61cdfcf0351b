package kafkaclient

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSASLAndCompression(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "scram-sha-512"} {
		m := saslMechanism(SASLConfig{Mechanism: mech, Username: "u", Password: "p"})
		require.NotNil(t, m, mech)
	}
	require.Nil(t, saslMechanism(SASLConfig{}))
	for _, c := range []string{"", "zstd", "none", "gzip", "snappy", "lz4"} {
		_, err := compressionCodec(c)
		require.NoError(t, err, c)
	}
	_, err := compressionCodec("brotli")
	require.ErrorContains(t, err, "brotli")
}
