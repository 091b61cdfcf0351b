#!/usr/bin/env bash
# Copies the jars of a real OpenSearch node (pom.xml) from Maven Central into
# ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/opensearch-<version>, compiles ../Launcher.java
# against them, dumps a class-data-sharing archive, and prints that directory, where
# internal/servers looks for them: see ../searchnode-fetch.sh. Needs mvn and a JDK 17.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec bash "$here/../searchnode-fetch.sh" "$here" os.version opensearch org.opensearch
