# syntax=docker/dockerfile:1
#
# One image with the three binaries, /usr/local/bin/injector,
# /usr/local/bin/config-server and /usr/local/bin/capture; the manifests in
# deploy/ pick one with `command:`, and the injected init container runs
# `capture`, the entry point, from this same image. Build from the
# repository root:
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
# `capture` drives iptables (both variants, legacy and nft, which it picks
# between at run time) and iproute2's `ip` (TPROXY routes, IPv6 address).
# Rather than a Debian base with a shell and apt for every container of the
# image, the `netfilter` stage installs Debian's own iptables and iproute2
# packages and gathers exactly what they run with: the binaries, the
# xtables extension modules (loaded at run time by name, from the
# directory they were built for), and every library `ldd` finds for them
# that distroless does not already have (it has glibc). That tree is laid
# over the distroless image, which is the same Debian release, so the
# libraries match. About 5 MB.
#
# The builder must be the same Debian release as the final image
# (bookworm = debian12): a binary linked against a newer glibc does not
# start on an older one. Move all three together.

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
    cargo build --release -p injector -p config-server -p capture --locked \
 && mkdir -p /out \
 && cp target/release/injector target/release/config-server target/release/capture /out/

FROM debian:bookworm-slim AS netfilter
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables iproute2 \
 && rm -rf /var/lib/apt/lists/*
# /rootfs: iptables-{nft,legacy}{,-save,-restore} and ip6tables' (plain
# iptables is the nft one, as Debian's alternatives set it), the xtables
# modules, `ip`, their libraries (in the directory the loader searches,
# under their soname), and /run for legacy iptables' lock file.
RUN <<'EOF'
set -eu
out=/rootfs
xtables=$(dirname "$(ls /usr/lib/*/xtables/libxt_owner.so)")
mkdir -p "$out/usr/sbin" "$out/usr/bin" "$out$xtables" "$out/run"
cp /usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi "$out/usr/sbin/"
for family in iptables ip6tables; do
  for tool in "" -save -restore; do
    ln -s xtables-nft-multi "$out/usr/sbin/$family-nft$tool"
    ln -s xtables-legacy-multi "$out/usr/sbin/$family-legacy$tool"
    ln -s "$family-nft$tool" "$out/usr/sbin/$family$tool"
  done
done
cp "$xtables"/*.so "$out$xtables/"
cp "$(command -v ip)" "$out/usr/bin/ip"
for object in "$out"/usr/sbin/xtables-*-multi "$out/usr/bin/ip" "$out$xtables"/*.so; do
  ldd "$object" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | grep -Ev '/(libc|libm|libdl|libpthread|librt)\.so|/ld-linux' | while read -r lib; do
  dir=$(dirname "$(readlink -f "$lib")")
  mkdir -p "$out$dir"
  cp -L "$lib" "$out$dir/"
done
EOF

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=netfilter /rootfs/ /
COPY --from=build /out/injector /out/config-server /out/capture /usr/local/bin/
USER 65532:65532
# 9443 webhook (HTTPS), 9090 admin (/healthz, /readyz, /metrics),
# 15010 config server (gRPC).
EXPOSE 9443 9090 15010
# The entry point is `capture`, so that the injected init container runs
# this image the way Istio runs its proxy image for istio-iptables:
# `args: [istio-iptables, ...]` and no command (Istio's templates work
# unchanged with `global.proxy_init.image` set to this image). The injector
# and config server manifests name their binary with `command:`.
ENTRYPOINT ["/usr/local/bin/capture"]
CMD ["--help"]
