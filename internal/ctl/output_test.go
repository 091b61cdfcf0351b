package ctl

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteConfigs(t *testing.T) {
	cfgs := []CollectConfig{
		{IP: "10.0.0.7", Key: "/logagent/10.0.0.7/collect_config", Revision: 12, Value: []byte(validConfig + "\n\n")},
		{IP: "10.0.0.8", Key: "/logagent/10.0.0.8/collect_config"},
	}
	tests := []struct {
		name    string
		headers bool
		want    string
	}{
		{name: "one host", want: validConfig + "\n# (no key)\n"},
		{name: "--all", headers: true, want: "# 10.0.0.7 /logagent/10.0.0.7/collect_config (revision 12)\n" + validConfig + "\n" +
			"# 10.0.0.8 /logagent/10.0.0.8/collect_config (revision 0)\n# (no key)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteConfigs(&buf, cfgs, tt.headers))
			require.Equal(t, tt.want, buf.String())
		})
	}
}

func TestWriteSetResults(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteSetResults(&buf, []SetResult{
		{IP: "10.0.0.7", Key: "/logagent/10.0.0.7/collect_config", Revision: 9},
		{IP: "10.0.0.9", Key: "/logagent/10.0.0.9/collect_config", Revision: 10, TopicsKey: "/logtransfer/topics", TopicsAdded: []string{"app_log", "db_log"}},
		{IP: "10.0.0.8", Key: "/logagent/10.0.0.8/collect_config", Err: &ConflictError{Key: "/logagent/10.0.0.8/collect_config", Expected: 4, Actual: 5}},
	}))
	require.Equal(t, "10.0.0.7: /logagent/10.0.0.7/collect_config: written (revision 9)\n"+
		"10.0.0.9: /logagent/10.0.0.9/collect_config: written (revision 10); logtransfer now also consumes app_log, db_log (/logtransfer/topics)\n"+
		"10.0.0.8: /logagent/10.0.0.8/collect_config: FAILED: /logagent/10.0.0.8/collect_config was changed by someone else (revision 4 when read, now 5): nothing written; read it again and redo the change\n",
		buf.String())
}
