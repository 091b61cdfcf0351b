package collect

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegistrationKey(t *testing.T) {
	require.Equal(t, "/logagent/agents/10.1.2.3", RegistrationKey("10.1.2.3"))
}
