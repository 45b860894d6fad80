# syntax=docker/dockerfile:1
#
# One image with both binaries, /usr/local/bin/injector and
# /usr/local/bin/config-server; the manifests in deploy/ pick one with
# `command:`. Build from the repository root:
#   docker build -t sidecar-injector:dev .
#
# Final image: gcr.io/distroless/cc-debian12:nonroot rather than a static
# musl build on scratch. Both would work (TLS is rustls/ring, no OpenSSL),
# but musl's allocator is slow under the many-threaded load of a tokio
# server, and the fix (a different global allocator) is a code change; the
# distroless "cc" image adds only glibc, libgcc, CA certificates and tzdata
# to scratch, has no shell or package manager, and runs as uid/gid 65532
# (the "nonroot" tag), the user the manifests ask for.
#
# The builder must be the same Debian release as the final image
# (bookworm = debian12): a binary linked against a newer glibc does not
# start on an older one. Move both together.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# .dockerignore keeps the context to what the build reads: the workspace
# manifests, the crates, and deploy/base/config (embedded by the injector).
COPY . .
# The caches keep the registry and target/ between builds; the binaries are
# copied out of the cached target/ within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release -p injector -p config-server --locked \
 && mkdir -p /out \
 && cp target/release/injector target/release/config-server /out/

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/injector /out/config-server /usr/local/bin/
USER 65532:65532
# 9443 webhook (HTTPS), 9090 admin (/healthz, /readyz, /metrics),
# 15010 config server (gRPC).
EXPOSE 9443 9090 15010
ENTRYPOINT ["/usr/local/bin/injector"]
CMD ["--help"]
