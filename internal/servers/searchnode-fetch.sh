#!/usr/bin/env bash
# The body of elasticsearch/fetch.sh and opensearch/fetch.sh, which differ only in the engine:
#
#	searchnode-fetch.sh DIR VERSION_PROPERTY NAME PACKAGE
#
# Copies the jars of a real search node (DIR/pom.xml, whose <VERSION_PROPERTY> is the version)
# from Maven Central into ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/NAME-<version>/libs,
# compiles Launcher.java (beside this script; its org.elasticsearch. packages renamed
# PACKAGE.) against them into launcher.jar beside it, starts a node once, with the plugins of
# the pom's <launcher.plugins>, to dump a class-data-sharing archive (node.jsa), and prints
# that directory, where internal/servers looks for them. Idempotent: a complete copy made from
# the same pom.xml and Launcher.java is left alone; a change to either redoes it all. Needs mvn
# and a JDK 17 (javac, jar).
set -euo pipefail

here=$1 prop=$2 name=$3 package=$4
launcher="$(dirname "${BASH_SOURCE[0]}")/Launcher.java"
version=$(sed -n "s:.*<$prop>\(.*\)</$prop>.*:\1:p" "$here/pom.xml")
plugins=()
for p in $(sed -n 's:.*<launcher.plugins>\(.*\)</launcher.plugins>.*:\1:p' "$here/pom.xml" | tr ',' ' '); do
	plugins+=("--plugin=$p")
done
dest="${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/$name-$version"
# internal/servers computes the same stamp from its embedded copies, to spot a stale cache.
stamp=$(cat "$here/pom.xml" "$launcher" | sha256sum | cut -d' ' -f1)

# The marker is written last, so an interrupted run is redone from scratch.
if [[ $(cat "$dest/complete" 2>/dev/null) != "$stamp" ]]; then
	rm -rf "$dest"
	mkdir -p "$dest"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# stdout is kept for the dir alone (mvn -q still prints color codes there).
	mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$dest/libs" >&2
	mkdir -p "$tmp/src"
	sed "s/org\.elasticsearch\./$package./g" "$launcher" >"$tmp/src/Launcher.java"
	javac -d "$tmp/classes" -cp "$dest/libs/*" "$tmp/src/Launcher.java" >&2
	# A jar, not a classes dir: the JVM refuses a CDS archive with a non-empty dir on the
	# class path ("Cannot have non-empty directory in paths").
	jar cf "$dest/launcher.jar" -C "$tmp/classes" .

	# Dump the classes loaded while a node starts and stops into a CDS archive: it cuts the
	# startup of every later node from ~5-6 s to ~2-3 s on 2 cores. The dump itself takes ~15 s.
	# The JVM flags and class path must be those of elasticsearch.go (fastStartJVMFlags,
	# esJavaCommon), or the JVM ignores the archive (with a warning in node.log). Ports 0: any
	# free ones.
	mkdir -p "$tmp/home" "$tmp/data"
	printf '%s\n' 'appender.out.type=Console' 'appender.out.name=out' \
		'appender.out.layout.type=PatternLayout' 'appender.out.layout.pattern=[%d] %p %m (%c)%n' \
		'rootLogger.level=INFO' 'rootLogger.appenderRef.out.ref=out' >"$tmp/log4j2.properties"
	if ! timeout 300 java -XX:ArchiveClassesAtExit="$dest/node.jsa" \
		-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError \
		-Djava.locale.providers=SPI,COMPAT -Dlog4j2.shutdownHookEnabled=false \
		-Dlog4j2.configurationFile="$tmp/log4j2.properties" \
		-cp "$dest/libs/*:$dest/launcher.jar" Launcher --exit-after-start "${plugins[@]}" \
		path.home="$tmp/home" path.data="$tmp/data" http.port=0 transport.port=0 \
		network.host=127.0.0.1 discovery.type=single-node >"$tmp/node.log" 2>&1; then
		cat "$tmp/node.log" >&2
		echo "$name: the node did not start (log above)" >&2
		exit 1
	fi
	echo "$stamp" >"$dest/complete"
fi
echo "$dest"
