#!/usr/bin/env bash
# Builds a real InfluxDB 2.7.12 server (influxd) from source into
# ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/influxdb-2.7.12/bin, where internal/testenv
# looks for it (StartInflux2), and prints that directory. Idempotent: a complete build is
# left alone. Cold: ~10 min for the Rust Flux library plus ~5 min of Go on 2 busy cores.
# Needs go, the Go module proxy, cargo (rustup's default toolchain) and crates.io.
#
# What it works around, found by trying:
#   - `go install .../influxdb/v2/cmd/influxd@v2.7.12` is refused: its go.mod has a replace
#     directive. So influxd is built from a scratch module that requires it and copies that
#     replace (nats-streaming-server).
#   - influxd links the Flux library (libflux, Rust) through cgo and pkg-config; influxdata's
#     pkg-config wrapper (github.com/influxdata/pkg-config, the version influxdb's go.mod
#     names) builds it with `cargo build --release` from the flux module's source, under
#     $(go env GOCACHE)/pkgconfig.
#   - flux v0.196.1 pins Rust 1.72 (rust-toolchain), which rustup cannot download here:
#     RUSTUP_TOOLCHAIN selects the installed default instead.
#   - With a current Rust, flux-core's #![deny(warnings)] turns the newer
#     mismatched_lifetime_syntaxes lint into errors. RUSTFLAGS=--cap-lints=warn does not
#     reach it (flux-core is also a build-script dependency, a host artifact that RUSTFLAGS
#     skips when cargo is given --target), so a RUSTC_WRAPPER appends --cap-lints=warn to
#     every rustc call.
set -euo pipefail

version=2.7.12
pkgconfig_version=v0.2.14 # github.com/influxdata/pkg-config, as influxdb v2.7.12's go.mod
dest="${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/influxdb-$version"

# The marker is written last, so an interrupted run is redone from scratch.
if [[ ! -f $dest/complete ]]; then
	rm -rf "$dest"
	mkdir -p "$dest/bin" "$dest/src"
	# GOFLAGS from the caller (e.g. -mod=vendor) must not leak into a module outside ours.
	export GOFLAGS=-buildvcs=false
	export PATH="$dest/bin:$HOME/.cargo/bin:$PATH"
	command -v cargo >/dev/null || { echo "influx2/fetch.sh: cargo not found" >&2; exit 1; }
	if command -v rustup >/dev/null; then
		RUSTUP_TOOLCHAIN="$(rustup default | awk '{print $1}')"
		export RUSTUP_TOOLCHAIN
	fi
	cat >"$dest/bin/rustc-caplints" <<'WRAPPER'
#!/bin/sh
# RUSTC_WRAPPER: cargo runs "$0 rustc ARGS..."; cap lints so that flux's #![deny(warnings)]
# builds with a newer Rust than it pins.
rustc="$1"
shift
exec "$rustc" "$@" --cap-lints=warn
WRAPPER
	chmod +x "$dest/bin/rustc-caplints"
	export RUSTC_WRAPPER="$dest/bin/rustc-caplints"

	GOBIN="$dest/bin" go install "github.com/influxdata/pkg-config@$pkgconfig_version" >&2
	cat >"$dest/src/go.mod" <<GOMOD
module influxd2build

go 1.23.0

replace github.com/nats-io/nats-streaming-server v0.11.2 => github.com/influxdata/nats-streaming-server v0.11.3-0.20201112040610-c277f7560803
GOMOD
	(
		cd "$dest/src"
		start=$SECONDS
		go get "github.com/influxdata/influxdb/v2/cmd/influxd@v$version" >&2
		echo "influx2/fetch.sh: go get $((SECONDS - start))s" >&2
		start=$SECONDS
		# Builds libflux (Rust, through the pkg-config wrapper) when cgo reaches the flux
		# package, while the Go packages compile; on 2 cores both use every core.
		go build -o "$dest/bin/influxd" github.com/influxdata/influxdb/v2/cmd/influxd >&2
		echo "influx2/fetch.sh: go build (Go + Rust flux) $((SECONDS - start))s" >&2
	)
	"$dest/bin/influxd" version >&2
	touch "$dest/complete"
fi
echo "$dest/bin"
