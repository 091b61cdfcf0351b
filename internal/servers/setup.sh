#!/usr/bin/env bash
# Sets this machine up for the whole test suite: `make setup`, which `make test` and .ci/run
# run first, so that a fresh clone runs every test and CI cannot set up differently.
#
#  1. The Debian packages the tests run (below), installed when their program is missing:
#     with apt-get as root, else through `sudo -n`; when neither works it stops with the
#     packages and the command to type.
#  2. Every fetch or build script of a server, internal/servers/*/fetch.sh and
#     internal/testenv/*/fetch.sh (Kafka and Elasticsearch jars, InfluxDB 1 and 2 builds, and
#     whatever server a script is added for later), each cached in
#     ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}: a warm run takes a second or two.
#
# With LOGCOLLECT_PARTIAL=1 (not under CI) a failure is reported and the rest goes on; the
# tests whose server is then missing are skipped and listed in the summary. Otherwise the
# first failure stops it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# program:package pairs. promtool and prometheus run the alert-rule, dashboard and monitoring
# tests; systemd-analyze checks the units in deploy/systemd; nginx is the TLS and
# authentication front of Elasticsearch in the security tests; kcat reads back what a real
# broker stored (librdkafka's view of our zstd batches); Java and Maven run and fetch Kafka
# and Elasticsearch.
APT_NEEDS="promtool:prometheus prometheus:prometheus systemd-analyze:systemd nginx:nginx kcat:kcat
java:default-jdk-headless javac:default-jdk-headless jar:default-jdk-headless mvn:maven"

truthy() {
	case "${1,,}" in
	1 | t | true | y | yes | on) return 0 ;;
	*) return 1 ;;
	esac
}

partial=false
if truthy "${LOGCOLLECT_PARTIAL:-}" && ! truthy "${CI:-}"; then
	partial=true
fi
failed=()

# fail WHAT: stop, or under a partial set-up, note WHAT and go on.
fail() {
	if $partial; then
		echo "setup: $1 (LOGCOLLECT_PARTIAL: going on; the tests that need it will be skipped)" >&2
		failed+=("$1")
		return 0
	fi
	echo "setup: $1" >&2
	exit 1
}

apt_packages() {
	local need prog pkg missing=()
	for need in $APT_NEEDS; do
		prog=${need%%:*}
		pkg=${need#*:}
		# nginx lives in /usr/sbin, which a user's PATH may lack: the tests look in PATH.
		if ! command -v "$prog" >/dev/null && [[ " ${missing[*]} " != *" $pkg "* ]]; then
			missing+=("$pkg")
		fi
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		echo "setup: Debian packages: nothing missing"
		return 0
	fi
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
			fail "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}"
			return 0
		fi
		sudo=(sudo -n)
	fi
	echo "setup: installing Debian packages ${missing[*]}"
	if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update ||
		! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
		fail "apt-get install ${missing[*]} failed"
	fi
}

# The servers are built with the Go on this machine (or the one a server's own go.mod asks
# for), not the project's GOTOOLCHAIN that the Makefile exports: old servers are not built
# with a Go newer than they know.
export GOTOOLCHAIN=auto

fetch_servers() {
	local script start
	for script in internal/servers/*/fetch.sh internal/testenv/*/fetch.sh; do
		[ -f "$script" ] || continue
		start=$SECONDS
		echo "setup: $script"
		if ! bash "$script" >/dev/null; then
			fail "$script failed (its output above)"
			continue
		fi
		echo "setup: $script ok ($((SECONDS - start))s)"
	done
}

apt_packages
fetch_servers
if [ "${#failed[@]}" -ne 0 ]; then
	echo "setup: partial, these failed:" >&2
	printf '  %s\n' "${failed[@]}" >&2
fi
