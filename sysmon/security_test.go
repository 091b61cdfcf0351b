package sysmon

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The metrics and health endpoints listen on loopback unless the config
// says otherwise.
func TestMetricsListenDefaultsToLoopback(t *testing.T) {
	var c FileConfig
	c.Influx.URL, c.Influx.Bucket = "http://influx:8086", "telegraf"
	require.NoError(t, c.Validate())
	require.Equal(t, "127.0.0.1:9103", c.Metrics.Listen)
}
