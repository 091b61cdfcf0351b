#!/usr/bin/env bash
# Installs the peers of the peer benchmark (bench/peers_bench_test.go) through
# the ordinary channels of this machine: Debian packages, and `go install` of
# released versions from the Go module proxy. Go binaries are cached under
# ${LOGCOLLECT_CACHE:-~/.cache/logcollect}/peers; a peer already there is not
# rebuilt. Each peer is installed on its own: one that fails is reported and
# the others still install. Exits non-zero if any failed.
#
#	bash bench/peers/install.sh            # all peers
#	bash bench/peers/install.sh otelcol    # some: kcat rsyslog telegraf otelcol
set -uo pipefail

TELEGRAF_VERSION=1.37.2
OTELCOL_VERSION=0.165.0
CACHE="${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/peers"
here="$(cd "$(dirname "$0")" && pwd)"

apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_kcat() { apt_install kcat; }

install_rsyslog() { apt_install rsyslog rsyslog-kafka; }

install_telegraf() {
	local bin="$CACHE/telegraf-$TELEGRAF_VERSION/bin"
	[ -x "$bin/telegraf" ] && return 0
	GOBIN="$bin" go install -tags "custom,inputs.tail,outputs.kafka,parsers.value,serializers.template" \
		"github.com/influxdata/telegraf/cmd/telegraf@v$TELEGRAF_VERSION"
}

install_otelcol() {
	local dir="$CACHE/otelcol-$OTELCOL_VERSION"
	[ -x "$dir/otelcol-bench" ] && return 0
	GOBIN="$dir/builder" go install "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION" || return 1
	sed -e "s|@VERSION@|$OTELCOL_VERSION|g" -e "s|@OUTPUT@|$dir/src|g" "$here/otelcol-builder.yaml" >"$dir/builder.yaml"
	"$dir/builder/builder" --config "$dir/builder.yaml" || return 1
	cp "$dir/src/otelcol-bench" "$dir/otelcol-bench"
}

# One install at a time (a test and a manual run may overlap).
mkdir -p "$CACHE"
exec 9>"$CACHE/.install.lock"
flock 9

peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(kcat rsyslog telegraf otelcol)
failed=()
for p in "${peers[@]}"; do
	start=$(date +%s)
	echo "== $p"
	if "install_$p"; then
		echo "== $p: ok ($(($(date +%s) - start)) s)"
	else
		echo "== $p: FAILED ($(($(date +%s) - start)) s)"
		failed+=("$p")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "not installed: ${failed[*]}" >&2
	exit 1
fi
