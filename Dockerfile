# Sluice container image.
#   docker build -t sluice:local .
#   docker run --rm -p 127.0.0.1:9780:9780 sluice:local
# Build and runtime share one Debian release, so the glibc the binary was linked against is
# the one it runs on; --static-swift-stdlib means no Swift runtime is needed at run time, and the
# executable links no Foundation (no ICU data): a stripped binary of about 30 MB (README).
#
# The runtime base is pinned by digest: the multi-platform image index of
# debian:bookworm-20260918-slim (Docker Official Images, as recorded in docker-library/repo-info,
# repos/debian/remote/bookworm-20260918-slim.md). Bump it with the date tag and its digest.

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-20260918-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251

FROM ${SWIFT_IMAGE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole package (Sources and Tests: SwiftPM checks every declared target's directory);
# .dockerignore keeps everything else out of the context.
COPY . .
# The cache mount keeps fetched dependencies and build products between builds. The binary is
# stripped (symbols and debug info: most of its size; crashes still print a backtrace of addresses).
RUN --mount=type=cache,target=/src/.build \
    swift build -c release --static-swift-stdlib --product sluice \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/sluice" /out/sluice \
    && strip --strip-all /out/sluice \
    && /out/sluice validate /src/k8s/base/rules.yaml

FROM ${RUNTIME_IMAGE}
# ca-certificates: trust roots for rediss:// backends. 65532 is the conventional
# "nonroot" uid; numeric, so Kubernetes runAsNonRoot can verify it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 65532 sluice \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sluice \
    && install -d -o 65532 -g 65532 -m 0750 /var/run/sluice
COPY --from=build /out/sluice /usr/local/bin/sluice
COPY k8s/base/rules.yaml /etc/sluice/rules.yaml
USER 65532:65532
EXPOSE 9780
# Kubernetes passes its own args (k8s/base/deployment.yaml); these are the standalone defaults.
# The TCP listener serves only /metrics, /healthz and /readyz; the API is on the Unix socket.
ENTRYPOINT ["sluice", "serve"]
CMD ["--config", "/etc/sluice/rules.yaml", "--socket", "/var/run/sluice/sluice.sock", "--metrics-address", "0.0.0.0:9780"]
