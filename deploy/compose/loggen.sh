#!/bin/sh
# Demo log generator of docker-compose.yml: appends nginx access lines (the
# combined format plus the request time) to $LOG_DIR/access.log and an
# application log with multi-line stack traces to $LOG_DIR/app-1.log, which
# deploy/config/collect.json ships to the topics web_log and app_log.
#
# LINES_PER_SECOND access lines are written each second. A file over
# MAX_BYTES is rotated by rename to NAME.1 (the agent reads a renamed file
# to its end). ITERATIONS > 0 stops after that many seconds (for tests); 0
# runs forever. POSIX sh and awk: runs on busybox (alpine) and Debian alike.
set -eu

dir=${LOG_DIR:-/var/log/demo}
rate=${LINES_PER_SECOND:-20}
max=${MAX_BYTES:-10485760}
iterations=${ITERATIONS:-0}
access=$dir/access.log
app=$dir/app-1.log
mkdir -p "$dir"

rotate() {
	if [ -f "$1" ] && [ "$(wc -c <"$1")" -gt "$max" ]; then
		mv "$1" "$1.1"
	fi
}

i=0
while :; do
	awk -v n="$rate" -v seed="$(date +%s)$i" -v app="$app" \
		-v now="$(date -u '+%d/%b/%Y:%H:%M:%S +0000')" \
		-v iso="$(date -u '+%Y-%m-%dT%H:%M:%SZ')" '
	BEGIN {
		srand(seed % 2147483647) # mawk repeats itself with larger seeds
		nm = split("GET GET GET GET GET POST PUT DELETE", methods, " ")
		np = split("/ /index.html /api/v1/items /api/v1/items/42 /login /static/app.js /static/app.css /favicon.ico", paths, " ")
		nc = split("200 200 200 200 200 200 200 301 304 404 500 502", codes, " ")
		na = split("curl/8.5.0|Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0|Go-http-client/1.1", agents, "|")
		for (k = 0; k < n; k++) {
			printf "10.0.%d.%d - - [%s] \"%s %s HTTP/1.1\" %s %d \"-\" \"%s\" %.3f\n",
				int(rand() * 4), int(rand() * 254) + 1, now,
				methods[int(rand() * nm) + 1], paths[int(rand() * np) + 1], codes[int(rand() * nc) + 1],
				int(rand() * 5000) + 100, agents[int(rand() * na) + 1], rand()
		}
		if (rand() < 0.2) {
			printf "%s ERROR request failed: upstream timed out\n  at handler.serve(handler.go:42)\n  at http.(*conn).serve(server.go:2102)\n", iso >> app
		} else {
			printf "%s INFO served %d requests\n", iso, n >> app
		}
	}' >>"$access"
	rotate "$access"
	rotate "$app"
	i=$((i + 1))
	if [ "$iterations" -gt 0 ] && [ "$i" -ge "$iterations" ]; then
		exit 0
	fi
	sleep 1
done
