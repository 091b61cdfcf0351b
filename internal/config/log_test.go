package config

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLogConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     LogConfig
		wantErr string
		logged  string // what an Info and a Debug line produce
	}{
		{name: "defaults", logged: "level=INFO msg=hello"},
		{name: "debug json", cfg: LogConfig{Level: "debug", Format: "json"}, logged: `"level":"DEBUG","msg":"bye"`},
		{name: "bad", cfg: LogConfig{Level: "trace", Format: "xml"},
			wantErr: `log.level "trace": must be debug, info, warn or error` + "\n" + `log.format "xml": must be text or json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			c.SetDefaults()
			var errs Errors
			c.Validate("log", &errs)
			if tt.wantErr != "" {
				require.EqualError(t, errs.Err(), tt.wantErr)
				return
			}
			require.NoError(t, errs.Err())
			var buf bytes.Buffer
			log := c.NewLogger(&buf)
			log.Info("hello")
			log.Debug("bye")
			require.Contains(t, buf.String(), tt.logged)
		})
	}
}
