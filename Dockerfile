# One image for the three services (collector, filter, sink).
# Build: docker build -t weibostream .   Run: docker run weibostream filter --help

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependency layer: manifests only, with placeholder sources, so editing our
# code does not rebuild librdkafka and the other dependencies.
COPY Cargo.toml Cargo.lock ./
COPY shared/Cargo.toml shared/
COPY services/collector/Cargo.toml services/collector/
COPY services/filter/Cargo.toml services/filter/
COPY services/sink/Cargo.toml services/sink/
COPY tests/Cargo.toml tests/
COPY tests/testkit/Cargo.toml tests/testkit/
COPY bench/Cargo.toml bench/
RUN for crate in shared services/collector services/filter services/sink tests tests/testkit bench; do \
      mkdir -p $crate/src && echo "" > $crate/src/lib.rs; \
    done \
 && for svc in collector filter sink; do echo "fn main() {}" > services/$svc/src/main.rs; done \
 && cargo build --release --locked --bins \
 && rm -rf shared/src services/*/src tests/src tests/testkit/src bench/src
COPY . .
RUN touch shared/src/lib.rs services/*/src/*.rs \
 && cargo build --release --locked --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/weibostream --create-home weibostream
COPY --from=build /src/target/release/collector /src/target/release/filter /src/target/release/sink /usr/local/bin/
USER weibostream
WORKDIR /var/lib/weibostream
CMD ["filter", "--help"]
