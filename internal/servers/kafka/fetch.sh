#!/usr/bin/env bash
# Copies the jars of a real Kafka broker (pom.xml) from Maven Central into
# ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/kafka-<version>/libs, where internal/servers
# looks for them, and prints that directory. Idempotent: a complete copy is left alone.
# Needs mvn and Java 17+.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
dest="${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/kafka-$version"

# The marker is written last, so an interrupted run is redone from scratch.
if [[ ! -f $dest/complete ]]; then
	rm -rf "$dest"
	mkdir -p "$dest"
	# stdout is kept for the libs dir alone (mvn -q still prints color codes there).
	mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$dest/libs" >&2
	touch "$dest/complete"
fi
echo "$dest/libs"
