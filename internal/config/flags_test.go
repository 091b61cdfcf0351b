package config

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFlags(t *testing.T) {
	var (
		brokers []string
		listen  = "from-file:1"
		level   = "info"
		n       string
	)
	f := NewFlags("test")
	f.List("kafka.brokers", "brokers", &brokers)
	f.String("metrics.listen", "listen", &listen)
	f.String("log.level", "level", &level)
	f.Override("n", "number", func(v string) error {
		if v != "1" {
			return errors.New("-n: want 1")
		}
		n = v
		return nil
	})
	require.NoError(t, f.Parse([]string{"-config", "x.yaml", "-check-config", "-kafka.brokers", "a:1,b:2", "-metrics.listen", ":9"}))
	require.Equal(t, "x.yaml", f.ConfigPath)
	require.True(t, f.CheckConfig)
	require.False(t, f.Version)
	require.NoError(t, f.Apply())
	require.Equal(t, []string{"a:1", "b:2"}, brokers)
	require.Equal(t, ":9", listen)
	require.Equal(t, "info", level, "not given: the file's value stays")
	require.Empty(t, n)

	f2 := NewFlags("test")
	f2.Override("n", "number", func(v string) error { return errors.New("-n: want 1") })
	require.NoError(t, f2.Parse([]string{"-n", "2"}))
	require.ErrorContains(t, f2.Apply(), "-n")
}

func TestFlagsMetricsAndLog(t *testing.T) {
	listen, log := "from-file:1", LogConfig{Level: "info", Format: "text"}
	f := NewFlags("test")
	f.MetricsAndLog(&listen, &log)
	require.NoError(t, f.Parse([]string{"-metrics.listen", ":9", "-log.format", "json"}))
	require.NoError(t, f.Apply())
	require.Equal(t, ":9", listen)
	require.Equal(t, LogConfig{Level: "info", Format: "json"}, log)
}
