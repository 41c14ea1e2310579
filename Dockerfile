# syntax=docker/dockerfile:1
# ferrokv packaged like the official Redis image: port 6379 on all
# interfaces, data in /data, a non-root `redis` user, and `command:`
# overrides such as `ferrokv --appendonly yes` (or just `--appendonly yes`).

# Build stage: the same release build command CI checks.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
# Cargo.toml declares the bench and example targets that live here.
COPY benches benches
RUN cargo build --release --locked

# Runtime stage: Debian's redis-tools brings the redis-cli 7.0 that
# health checks (here and in compose files) run inside the container.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN groupadd -r -g 999 redis \
    && useradd -r -g redis -u 999 redis \
    && apt-get update \
    && apt-get install -y --no-install-recommends redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir /data \
    && chown redis:redis /data
COPY --from=build /src/target/release/ferrokv /usr/local/bin/ferrokv
COPY docker-entrypoint.sh docker-healthcheck.sh /usr/local/bin/
WORKDIR /data
VOLUME /data
EXPOSE 6379
# The entrypoint drops root for the redis user; SIGTERM is the graceful
# shutdown signal (as for redis-server).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["docker-healthcheck.sh"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["ferrokv"]
