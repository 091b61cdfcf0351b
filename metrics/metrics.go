package metrics

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Version and Revision identify the build. They are set at link time with
// -ldflags "-X github.com/logcollect/logcollect/metrics.Version=..." (see the
// Makefile); read them through [DefaultBuildInfo].
var (
	Version  = "dev"
	Revision = ""
)

// BuildInfo identifies the running build. It becomes the labels of the
// logcollect_build_info gauge; the Go version is added from runtime.Version.
type BuildInfo struct {
	Version  string
	Revision string
}

// DefaultBuildInfo returns the link-time [Version] and [Revision]. When
// Revision was not set, it falls back to the vcs.revision the Go toolchain
// stamps into the binary (absent with -buildvcs=false or outside a VCS
// checkout, in which case Revision stays empty). When Version was not set, it
// falls back to the main module version, which is set by
// "go install module@version".
func DefaultBuildInfo() BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildInfo(Version, Revision, bi)
}

// buildInfo is DefaultBuildInfo with the link-time values and the toolchain's
// build information (nil when the binary has none) given.
func buildInfo(version, revision string, bi *debug.BuildInfo) BuildInfo {
	info := BuildInfo{Version: version, Revision: revision}
	if bi == nil {
		return info
	}
	if info.Revision == "" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.Revision = s.Value
			}
		}
	}
	if info.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	return info
}

// NewRegistry returns a new registry (never the global default) holding the
// Go runtime collector (go_*), the process collector (process_*) and the
// logcollect_build_info gauge, which is always 1 and carries the labels
// version, revision and goversion.
func NewRegistry(info BuildInfo) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newBuildInfo(info),
	)
	return reg
}

func newBuildInfo(info BuildInfo) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "logcollect_build_info",
		Help: "A metric with a constant '1' value labeled by version, revision and goversion from which logcollect was built.",
		ConstLabels: prometheus.Labels{
			"version":   info.Version,
			"revision":  info.Revision,
			"goversion": runtime.Version(),
		},
	})
	g.Set(1)
	return g
}
