# One image for the three services (collector, filter, sink).
# Build: docker build -t weibostream .   Run: docker run weibostream filter --help

FROM rust:1.95-bookworm AS build
WORKDIR /src
# The Kafka client links Debian's OpenSSL (TLS, SASL/SCRAM); the official
# rust image carries libssl-dev and pkg-config already.
ENV SERVICES="-p weibostream-collector -p weibostream-filter -p weibostream-sink"

# Dependency layer: the manifests only, with placeholder sources for every
# target they declare, so editing our code does not rebuild librdkafka and
# the other dependencies.
COPY Cargo.toml Cargo.lock ./
COPY shared/Cargo.toml shared/
COPY services/collector/Cargo.toml services/collector/
COPY services/filter/Cargo.toml services/filter/
COPY services/sink/Cargo.toml services/sink/
COPY tests/Cargo.toml tests/
COPY tests/testkit/Cargo.toml tests/testkit/
COPY bench/Cargo.toml bench/
COPY deploy/docker/placeholders.sh /usr/local/bin/
RUN placeholders.sh > /tmp/placeholders \
 && cargo build --release --locked $SERVICES \
 && xargs rm -f < /tmp/placeholders

COPY . .
# COPY keeps the context's modification times, which can be older than the
# placeholders' build: touch our sources so cargo rebuilds them.
# --strip-debug: the release profile's line tables are 3/4 of each binary;
# the symbols stay, so a panic's backtrace still names its functions.
RUN find shared services -name '*.rs' -exec touch {} + \
 && cargo build --release --locked $SERVICES \
 && cp target/release/collector target/release/filter target/release/sink /usr/local/bin/ \
 && strip --strip-debug /usr/local/bin/collector /usr/local/bin/filter /usr/local/bin/sink

FROM debian:bookworm-slim
# ca-certificates for TLS to brokers and source APIs; libssl3 for librdkafka.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --home-dir /var/lib/weibostream --create-home weibostream \
 && mkdir -p /etc/weibostream
COPY --from=build /usr/local/bin/collector /usr/local/bin/filter /usr/local/bin/sink /usr/local/bin/
USER weibostream
WORKDIR /var/lib/weibostream
CMD ["filter", "--help"]
