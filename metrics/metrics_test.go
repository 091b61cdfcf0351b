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

// TestDefaultBuildInfo gives buildInfo the build information of binaries built
// in different ways: the link-time values win, then the toolchain's stamps.
func TestDefaultBuildInfo(t *testing.T) {
	stamped := func(mainVersion string, settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/logcollect/logcollect", Version: mainVersion}, Settings: settings}
	}
	vcs := debug.BuildSetting{Key: "vcs.revision", Value: "0123abcd"}
	tests := []struct {
		name              string
		version, revision string // the link-time values
		bi                *debug.BuildInfo
		want              BuildInfo
	}{
		{name: "make build: ldflags set both", version: "v1.2.3", revision: "abc123", bi: stamped("(devel)", vcs),
			want: BuildInfo{Version: "v1.2.3", Revision: "abc123"}},
		{name: "go build in a checkout: the vcs stamp", version: "dev", bi: stamped("(devel)", vcs),
			want: BuildInfo{Version: "dev", Revision: "0123abcd"}},
		{name: "go install module@version: the module version", version: "dev", bi: stamped("v1.4.0"),
			want: BuildInfo{Version: "v1.4.0"}},
		{name: "ldflags version wins over the module version", version: "v9", bi: stamped("v1.4.0", vcs),
			want: BuildInfo{Version: "v9", Revision: "0123abcd"}},
		{name: "-buildvcs=false outside a module version", version: "dev", bi: stamped(""),
			want: BuildInfo{Version: "dev"}},
		{name: "other settings are not the revision", version: "dev", bi: stamped("(devel)", debug.BuildSetting{Key: "vcs.time", Value: "2026-01-01T00:00:00Z"}),
			want: BuildInfo{Version: "dev"}},
		{name: "no build information", version: "dev", revision: "r", bi: nil, want: BuildInfo{Version: "dev", Revision: "r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, buildInfo(tt.version, tt.revision, tt.bi))
		})
	}
}

// TestDefaultBuildInfoReadsTheVariables: DefaultBuildInfo uses the variables
// the Makefile's ldflags set.
func TestDefaultBuildInfoReadsTheVariables(t *testing.T) {
	oldV, oldR := Version, Revision
	t.Cleanup(func() { Version, Revision = oldV, oldR })
	Version, Revision = "v7.7.7", "feedface"
	require.Equal(t, BuildInfo{Version: "v7.7.7", Revision: "feedface"}, DefaultBuildInfo())
}
