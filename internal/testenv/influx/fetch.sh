#!/usr/bin/env bash
# Builds a real InfluxDB 1.8.10 server (influxd) from source with the Go toolchain into
# ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/influxdb-1.8.10/bin, where internal/testenv
# looks for it, and prints that directory. Idempotent: a complete build is left alone.
# Takes ~95 s cold (62 MB binary). Needs only go and the Go module proxy.
#
# Why 1.8.10: it is the newest 1.x that builds without the Rust flux library, and it serves
# the v2-compatible /api/v2/write and /health that influxdb-client-go/v2 uses. Debian's
# influxdb (1.6.7) lacks both.
set -euo pipefail

version=1.8.10
dest="${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/influxdb-$version"

# The marker is written last, so an interrupted run is redone from scratch.
if [[ ! -f $dest/complete ]]; then
	rm -rf "$dest"
	mkdir -p "$dest/bin"
	# GOFLAGS from the caller (e.g. -mod=vendor) must not leak into a module outside ours.
	GOFLAGS=-buildvcs=false GOBIN="$dest/bin" go install "github.com/influxdata/influxdb/cmd/influxd@v$version" >&2
	"$dest/bin/influxd" version >&2
	touch "$dest/complete"
fi
echo "$dest/bin"
