package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/dashboards"
)

// TestRunWritesEveryGeneratedFile: the generator writes each file of
// dashboards.Generate under -out, creating the directories.
func TestRunWritesEveryGeneratedFile(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, run(out))
	files, err := dashboards.Generate()
	require.NoError(t, err)
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(f.Path)))
		require.NoError(t, err)
		require.Equal(t, string(f.Data), string(got), f.Path)
	}
}

func TestRunFailsOnUnwritableDir(t *testing.T) {
	out := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(out, nil, 0o644))
	require.Error(t, run(out)) // a file where the directory should be
}
