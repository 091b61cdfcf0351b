package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestProfileWindows: SIGUSR2 starts a CPU profile and the next one stops
// it; one still running when agentprof stops is ended by stop. Either way
// the file holds a profile (gzip-compressed, as pprof writes it).
func TestProfileWindows(t *testing.T) {
	tests := []struct {
		name    string
		signals int
	}{
		{name: "window between two signals", signals: 2},
		{name: "window ended by stop", signals: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "window.prof")
			stop := profileWindows(path, slog.New(slog.DiscardHandler))
			require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR2))
			require.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, 10*time.Second, 5*time.Millisecond, "profile started")
			if tc.signals == 2 {
				require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR2))
				require.Eventually(t, func() bool { fi, err := os.Stat(path); return err == nil && fi.Size() > 0 }, 10*time.Second, 5*time.Millisecond, "profile written")
			}
			require.NoError(t, stop())
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Greater(t, len(data), 2)
			require.Equal(t, []byte{0x1f, 0x8b}, data[:2], "a gzip-compressed profile")
		})
	}
}
