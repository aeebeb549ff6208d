# syntax=docker/dockerfile:1
# One small non-root image with both binaries:
#   /usr/local/bin/alexa-link-server       (the default entrypoint)
#   /usr/local/bin/alexa-link-operator     (the Helm chart sets it as command)
#   /usr/local/bin/alexa-link-healthcheck  (`helm test`: the base has no shell or wget)
# Statically linked against musl (the C code is ring's and jemalloc's, which
# `make` builds), on a distroless static base that runs as UID 65532.
#
#   docker build -t ghcr.io/alexa-link/alexa-link:0.1.0 .
#
# Without a container engine, `scripts/image` builds the same layout offline
# (tests/image/layout.sh checks that the two agree).
#
# The tag must be the workspace version: the operator deploys servers from
# ghcr.io/alexa-link/alexa-link:<its own version> unless a resource names an
# image, and the chart's default tag is its appVersion.

ARG RUST_VERSION=1.90

FROM rust:${RUST_VERSION}-alpine AS build
RUN apk add --no-cache musl-dev make
WORKDIR /src
# Dependencies first, so that source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY server/Cargo.toml server/Cargo.toml
COPY server/config/Cargo.toml server/config/Cargo.toml
COPY server/certcheck/Cargo.toml server/certcheck/Cargo.toml
COPY operator/Cargo.toml operator/Cargo.toml
RUN mkdir -p server/src server/config/src server/certcheck/src operator/src \
 && touch server/config/src/lib.rs server/certcheck/src/lib.rs \
 && echo 'fn main() {}' > server/src/main.rs && touch server/src/lib.rs \
 && echo 'fn main() {}' > operator/src/main.rs && touch operator/src/lib.rs \
 && cargo fetch --locked
COPY server server
COPY operator operator
# Make cargo see the real sources as newer than the placeholders above.
RUN touch server/src/main.rs server/src/lib.rs server/config/src/lib.rs server/certcheck/src/lib.rs \
      operator/src/main.rs operator/src/lib.rs \
 && cargo build --release --locked -p alexa-link-server -p alexa-link-operator \
 && mkdir /out \
 && cp target/release/alexa-link-server target/release/alexa-link-operator /out/ \
 && rustc --edition 2024 -C opt-level=2 -C strip=symbols -o /out/alexa-link-healthcheck server/examples/healthcheck.rs \
 && /out/alexa-link-operator --version && /out/alexa-link-server --version

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.source="https://github.com/alexa-link/alexa-link" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.description="alexa-link OAuth 2.0 server for Alexa account linking, and its Kubernetes operator"
COPY --from=build /out/alexa-link-server /out/alexa-link-operator /out/alexa-link-healthcheck /usr/local/bin/
USER 65532:65532
# 8443: the server (HTTPS or HTTP), 9090: its admin port; 8081: the operator admin port.
EXPOSE 8443 9090 8081
ENTRYPOINT ["/usr/local/bin/alexa-link-server"]
