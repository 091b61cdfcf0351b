package metrics

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestNewRegistry(t *testing.T) {
	reg := NewRegistry(BuildInfo{Version: "v1.2.3", Revision: "abc123"})

	want := `
# HELP logcollect_build_info A metric with a constant '1' value labeled by version, revision and goversion from which logcollect was built.
# TYPE logcollect_build_info gauge
logcollect_build_info{goversion="` + runtime.Version() + `",revision="abc123",version="v1.2.3"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "logcollect_build_info"))

	mfs, err := reg.Gather()
	require.NoError(t, err)
	names := make(map[string]bool, len(mfs))
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		require.True(t, names[name], "registry lacks %s", name)
	}
}

func TestNewRegistryIsIndependent(t *testing.T) {
	// Two registries must not collide: nothing is registered globally.
	require.NotPanics(t, func() {
		NewRegistry(BuildInfo{Version: "a"})
		NewRegistry(BuildInfo{Version: "b"})
	})
}

func TestBuildInfoLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(newBuildInfo(BuildInfo{Version: "v1", Revision: "r"}))
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestDefaultBuildInfo(t *testing.T) {
	vcsRevision := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				vcsRevision = s.Value
			}
		}
	}

	tests := []struct {
		name     string
		version  string
		revision string
		want     BuildInfo
	}{
		{name: "set by ldflags", version: "v1.2.3", revision: "abc123", want: BuildInfo{Version: "v1.2.3", Revision: "abc123"}},
		{name: "revision falls back to vcs stamp", version: "v1.2.3", revision: "", want: BuildInfo{Version: "v1.2.3", Revision: vcsRevision}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldV, oldR := Version, Revision
			t.Cleanup(func() { Version, Revision = oldV, oldR })
			Version, Revision = tt.version, tt.revision

			require.Equal(t, tt.want, DefaultBuildInfo())
		})
	}
}
