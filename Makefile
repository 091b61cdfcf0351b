# logcollect — every CI step is a target here; .ci/run calls `make setup lint fuzz test`.

GO      ?= go
# bash for pipefail: `go test -json | testreport` exits with go test's status.
SHELL   := bash
# The Go release the project builds and tests with, taken from the Go module
# proxy by the go command: 1.26.8's standard library has vulnerabilities
# (govulncheck) that 1.27.3 fixes. GOTOOLCHAIN=local uses the machine's Go.
export GOTOOLCHAIN ?= go1.27.3
PKG     := github.com/logcollect/logcollect
BIN_DIR := bin

# Stamped into every binary (see metrics.Version / metrics.Revision).
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null)
LDFLAGS  := -X $(PKG)/metrics.Version=$(VERSION) -X $(PKG)/metrics.Revision=$(REVISION)

# Fuzz targets, one per word, as <package>:<FuzzFunc>. `make fuzz` runs each
# for FUZZTIME; CI runs them briefly with FUZZTIME=3000x (a count: a duration can
# end in a spurious "context deadline exceeded" on Go 1.26, golang/go#75804).
FUZZ_TARGETS ?= ./internal/collect:FuzzParseTasks ./agent:FuzzJoiner ./agent:FuzzContainerJoin ./internal/record:FuzzAppendJSONString ./agent:FuzzEncodeRecord ./transfer:FuzzBuildDocument \
	./pipeline:FuzzJSON ./pipeline:FuzzDissect ./pipeline:FuzzNginx ./pipeline:FuzzSyslog ./pipeline:FuzzCRI
FUZZTIME     ?= 5m

.PHONY: all build setup test test-short lint fmt bench microbench bench-smoke fuzz chaos run clean

all: lint test build

## build: every ./cmd/* binary into bin/, version-stamped; CMDS selects them (the image
## builds the four it ships, without logcollect-dev: see Dockerfile)
CMDS ?= ./cmd/...
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN_DIR)/ $(CMDS)

## setup: what the whole suite needs on this machine (internal/servers/setup.sh): the missing
## Debian packages (apt-get as root or through sudo -n) and every server's fetch or build
## script, cached in LOGCOLLECT_CACHE; `make test` and .ci/run run it first
setup:
	bash internal/servers/setup.sh

## test: the whole suite with the race detector, real servers included; a test whose server
## is missing fails (LOGCOLLECT_PARTIAL=1 skips it instead). It ends with the counts and the
## skipped tests (internal/testreport); the exit status is go test's
TEST_PKGS ?= ./...
test: setup
	set -o pipefail; $(GO) test -race -count=1 -timeout 20m -json $(TEST_PKGS) | $(GO) run ./internal/testreport

## test-short: the quick inner loop: -short skips every test that starts a server or runs
## for long (no set-up needed)
test-short:
	set -o pipefail; $(GO) test -short -json $(TEST_PKGS) | $(GO) run ./internal/testreport

## lint: gofmt must list nothing; go vet must pass; the import rules between packages
## must hold (internal/layout: agent and transfer apart, no test servers in production, ...)
lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt needed on:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...
	$(GO) vet -tags bench ./bench/...
	$(GO) test -count=1 ./internal/layout/

## fmt: rewrite all Go files with gofmt
fmt:
	gofmt -w .

## bench: micro-benchmarks, then the harnesses in bench/ (bench/README.md);
## BENCH_RUN selects harnesses, e.g. make bench BENCH_RUN=TestTransferThroughput
BENCH_RUN ?= .
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) test -tags bench -run '$(BENCH_RUN)' -v -timeout 90m ./bench/

## microbench: the Go micro-benchmarks only, MICROBENCH_COUNT times each for benchstat
## (make microbench > new.txt; benchstat old.txt new.txt); MICROBENCH selects them
MICROBENCH       ?= .
MICROBENCH_COUNT ?= 6
MICROBENCH_PKGS  ?= ./...
microbench:
	$(GO) test -run '^$$' -bench '$(MICROBENCH)' -benchmem -count $(MICROBENCH_COUNT) $(MICROBENCH_PKGS)

## bench-smoke: every micro-benchmark once and every harness at a small size, to check
## that they work; results go to BENCH_SMOKE_DIR, not bench/results or BENCHMARKS.md
BENCH_SMOKE_DIR ?= $(or $(TMPDIR),/tmp)/logcollect-bench-smoke
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./...
	BENCH_RESULTS_DIR='$(BENCH_SMOKE_DIR)' BENCH_IDLE_WAIT=0s \
	BENCH_AGENT_LINES=20000 BENCH_AGENT_RUNS=1 \
	BENCH_TRANSFER_DOCS=5000 BENCH_TRANSFER_RUNS=1 BENCH_TRANSFER_FRESHNESS=3s \
	SYSMON_BENCH_WINDOW=5s \
	BENCH_FLEET_AGENTS=50 BENCH_FLEET_WINDOW=5s BENCH_FLEET_PUSHES=2 \
	LOGCOLLECT_PEERS_LINES=20000 LOGCOLLECT_PEERS_RUNS=1 LOGCOLLECT_PEERS_LIVE_RATE=1000 LOGCOLLECT_PEERS_LIVE_SECONDS=3 \
	BENCH_FOOTPRINT_LINES=20000 BENCH_FOOTPRINT_IDLE=2s BENCH_FOOTPRINT_LIVE_SECONDS=1 BENCH_FOOTPRINT_CONTENDERS=logagent \
	$(GO) test -tags bench -run '$(BENCH_RUN)' -count=1 -v -timeout 60m ./bench/

## fuzz: run each FUZZ_TARGETS entry for FUZZTIME
fuzz:
	@if [ -z "$(strip $(FUZZ_TARGETS))" ]; then echo "no fuzz targets (set FUZZ_TARGETS)"; exit 0; fi; \
	set -e; for target in $(FUZZ_TARGETS); do \
		pkg="$${target%%:*}"; fn="$${target##*:}"; \
		echo "fuzz $$fn in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	done

## chaos: the chaos suite at full size (RELIABILITY.md): CHAOS_LINES lines per scenario,
## CHAOS_FAULTS faults (servers down: 3 outages of CHAOS_OUTAGE; Elasticsearch down, and answering
## 429/503 through a proxy, twice as long);
## the table goes to CHAOS_REPORT. `make test` runs a short version.
CHAOS_LINES  ?= 1000000
CHAOS_FAULTS ?= 20
CHAOS_RATE   ?= 10000
CHAOS_OUTAGE ?= 30s
CHAOS_REPORT ?= $(CURDIR)/chaos-report.md
## TestTransferGroup: 3 logtransfer instances on 12 partitions, scaled out and in and killed
## CHAOS_GROUP_CYCLES times under CHAOS_GROUP_RATE records/s; its table goes to CHAOS_GROUP_REPORT.
## TestEtcdCluster: the etcd leader killed or stopped CHAOS_FAULTS times
CHAOS_GROUP_RATE   ?= 5000
CHAOS_GROUP_CYCLES ?= 5
CHAOS_GROUP_REPORT ?= $(CURDIR)/chaos-group-report.md
chaos:
	CHAOS_LINES=$(CHAOS_LINES) CHAOS_FAULTS=$(CHAOS_FAULTS) CHAOS_RATE=$(CHAOS_RATE) \
	CHAOS_OUTAGE=$(CHAOS_OUTAGE) CHAOS_REPORT=$(CHAOS_REPORT) \
	CHAOS_GROUP_RATE=$(CHAOS_GROUP_RATE) CHAOS_GROUP_CYCLES=$(CHAOS_GROUP_CYCLES) CHAOS_GROUP_REPORT=$(CHAOS_GROUP_REPORT) \
	$(GO) test -count=1 -v -timeout 4h -run '^(TestChaos|TestTransferGroup|TestEtcdCluster)$$' ./internal/chaos/

## run: the whole pipeline locally until Ctrl-C (bin/logcollect-dev, internal/devstack),
## state in ./var (a second run resumes); EMBEDDED=1 uses kfake instead of the real Kafka
## broker, PROMETHEUS=1 adds Prometheus, INFLUX_URL=http://... gives sysmon an InfluxDB
RUN_FLAGS := $(if $(filter 1,$(EMBEDDED)),--embedded) $(if $(filter 1,$(PROMETHEUS)),--prometheus)
run: build
	@$(if $(filter 1,$(EMBEDDED)),,bash internal/servers/kafka/fetch.sh >/dev/null)
	@bash internal/servers/elasticsearch/fetch.sh >/dev/null
	$(BIN_DIR)/logcollect-dev --dir var --bin $(BIN_DIR) $(RUN_FLAGS)

clean:
	rm -rf $(BIN_DIR)
