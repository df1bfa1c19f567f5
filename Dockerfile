# syntax=docker/dockerfile:1
# The `slotstream` binary in a small Debian image: built with the Rust toolchain image, run on
# bookworm-slim with only the shared libraries it links (OpenSSL 3 for librdkafka's TLS, zlib).
#
#   docker build -t slotstream .
#   docker run --rm slotstream --help
# docker-compose.yml builds this image for its producer and consumer services.

FROM rust:1-bookworm AS build
# librdkafka is compiled from source by rdkafka-sys: it needs a C toolchain (in this image),
# OpenSSL and zlib headers, and pkg-config to find them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev zlib1g-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mounts keep the crate downloads and the compiled librdkafka between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin slotstream \
    && cp target/release/slotstream /usr/local/bin/slotstream

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl3 zlib1g ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --shell /usr/sbin/nologin slotstream
COPY --from=build /usr/local/bin/slotstream /usr/local/bin/slotstream
USER slotstream
ENTRYPOINT ["/usr/local/bin/slotstream"]
CMD ["--help"]
