# logcollect — every CI step is a target here; .ci/run calls `make lint test`.

GO      ?= go
PKG     := github.com/logcollect/logcollect
BIN_DIR := bin

# Stamped into every binary (see metrics.Version / metrics.Revision).
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null)
LDFLAGS  := -X $(PKG)/metrics.Version=$(VERSION) -X $(PKG)/metrics.Revision=$(REVISION)

# Fuzz targets, one per word, as <package>:<FuzzFunc>. `make fuzz` runs each
# for FUZZTIME; CI runs them briefly with FUZZTIME=3000x (a count: a duration can
# end in a spurious "context deadline exceeded" on Go 1.26, golang/go#75804).
FUZZ_TARGETS ?= ./agent:FuzzParseTasks ./agent:FuzzJoiner ./agent:FuzzAppendJSONString ./agent:FuzzEncodeRecord ./transfer:FuzzBuildDocument
FUZZTIME     ?= 5m

.PHONY: all build test test-short lint fmt bench fuzz chaos run clean

all: lint test build

## build: every ./cmd/* binary into bin/, version-stamped
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN_DIR)/ ./cmd/...

## test: the whole suite with the race detector, real servers included
test:
	$(GO) test -race -count=1 -timeout 20m ./...

## test-short: the quick inner loop (tests honour testing.Short)
test-short:
	$(GO) test -short ./...

## lint: gofmt must list nothing; go vet must pass
lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt needed on:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...

## fmt: rewrite all Go files with gofmt
fmt:
	gofmt -w .

## bench: micro-benchmarks, then the harnesses in bench/ (bench/README.md);
## BENCH_RUN selects harnesses, e.g. make bench BENCH_RUN=TestTransferThroughput
BENCH_RUN ?= .
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) test -tags bench -run '$(BENCH_RUN)' -v -timeout 90m ./bench/

## fuzz: run each FUZZ_TARGETS entry for FUZZTIME
fuzz:
	@if [ -z "$(strip $(FUZZ_TARGETS))" ]; then echo "no fuzz targets (set FUZZ_TARGETS)"; exit 0; fi; \
	set -e; for target in $(FUZZ_TARGETS); do \
		pkg="$${target%%:*}"; fn="$${target##*:}"; \
		echo "fuzz $$fn in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	done

## chaos: the chaos suite at full size (RELIABILITY.md): CHAOS_LINES lines per scenario,
## CHAOS_FAULTS faults (servers down: 3 outages of CHAOS_OUTAGE, Elasticsearch twice as long);
## the table goes to CHAOS_REPORT. `make test` runs a short version.
CHAOS_LINES  ?= 1000000
CHAOS_FAULTS ?= 20
CHAOS_RATE   ?= 10000
CHAOS_OUTAGE ?= 30s
CHAOS_REPORT ?= $(CURDIR)/chaos-report.md
chaos:
	CHAOS_LINES=$(CHAOS_LINES) CHAOS_FAULTS=$(CHAOS_FAULTS) CHAOS_RATE=$(CHAOS_RATE) \
	CHAOS_OUTAGE=$(CHAOS_OUTAGE) CHAOS_REPORT=$(CHAOS_REPORT) \
	$(GO) test -count=1 -v -timeout 4h -run '^TestChaos$$' ./internal/chaos/

## run: the whole pipeline locally until Ctrl-C, state in ./var (a second run resumes);
## EMBEDDED=1 uses kfake instead of the real Kafka broker, PROMETHEUS=1 adds Prometheus,
## INFLUX_URL=http://... gives sysmon an InfluxDB
RUN_FLAGS := $(if $(filter 1,$(EMBEDDED)),--embedded) $(if $(filter 1,$(PROMETHEUS)),--prometheus)
run: build
	@$(if $(filter 1,$(EMBEDDED)),,bash internal/servers/kafka/fetch.sh >/dev/null)
	@bash internal/servers/elasticsearch/fetch.sh >/dev/null
	$(BIN_DIR)/logctl dev --dir var --bin $(BIN_DIR) $(RUN_FLAGS)

clean:
	rm -rf $(BIN_DIR)
