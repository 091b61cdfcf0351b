package kafkaclient

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidTopic(t *testing.T) {
	for name, want := range map[string]bool{
		"web_log": true, "a.b-c_D9": true, strings.Repeat("a", 249): true, "...": true,
		"": false, ".": false, "..": false, "a b": false, "a/b": false, strings.Repeat("a", 250): false, "é": false,
	} {
		require.Equal(t, want, ValidTopic(name), "%q", name)
	}
}
