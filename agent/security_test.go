package agent

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The metrics and health endpoints listen on loopback unless the config
// says otherwise.
func TestMetricsListenDefaultsToLoopback(t *testing.T) {
	c := Config{Kafka: kafkaBrokers("kafka:9092")}
	require.NoError(t, c.Validate())
	require.Equal(t, "127.0.0.1:9101", c.Metrics.Listen)

	c = Config{Kafka: kafkaBrokers("kafka:9092"), Metrics: MetricsConfig{Listen: ":9101"}}
	require.NoError(t, c.Validate())
	require.Equal(t, ":9101", c.Metrics.Listen, "binding elsewhere is explicit")
}
