# syntax=docker/dockerfile:1
#
# One image with the three daemons (logagent, logtransfer, sysmon) and logctl:
# the service picks the command. logcollect-dev (`make run`) is a developer's
# tool that links the test servers: it is neither built nor shipped here.
# docker-compose.yml builds the image; by hand:
#
#   docker build -t logcollect \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" .
#
# The version is passed in because .git is not in the build context
# (.dockerignore); `make build` stamps it like on a workstation, and the
# binaries report it as logcollect_build_info.
#
# It sits at the root, next to go.mod and .dockerignore, because the build
# context must be the whole module: `docker build .` works without -f.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=
# Static binaries (no cgo): they run on alpine's musl.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 make build VERSION="${VERSION}" REVISION="${REVISION}" \
      CMDS="./cmd/logagent ./cmd/logtransfer ./cmd/sysmon ./cmd/logctl" && \
    ./bin/logagent -version && ./bin/logtransfer -version && ./bin/sysmon -version && ./bin/logctl --version

# alpine rather than distroless: compose health checks need an HTTP client in
# the image (busybox wget on /healthz); Kubernetes probes do not, and the
# binaries run the same on either.
FROM alpine:3.22
RUN apk add --no-cache ca-certificates tzdata && \
    addgroup -S -g 10001 logcollect && \
    adduser -S -D -H -u 10001 -G logcollect -s /sbin/nologin logcollect && \
    install -d -o logcollect -g logcollect -m 0750 /var/lib/logagent
COPY --from=build /src/bin/logagent /src/bin/logtransfer /src/bin/sysmon /src/bin/logctl /usr/local/bin/
# Not root. logagent reads the logs it ships as this user: they must be
# readable by uid 10001 or by others (or run the container with --group-add).
USER 10001:10001
# /var/lib/logagent is logagent's data_dir (offsets): mount a volume there;
# a new named volume takes this directory's owner.
# Metrics, /healthz and /readyz of logagent, logtransfer, sysmon.
EXPOSE 9101 9102 9103
CMD ["logagent", "-config", "/etc/logagent/agent.yaml"]
