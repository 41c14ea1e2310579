# Builds ferrokv and runs it the way the official Redis image runs
# redis-server: port 6379 on all interfaces, data in /data, extra
# arguments appended to the server command line.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin ferrokv

FROM debian:bookworm-slim
RUN groupadd -r -g 999 redis && useradd -r -g redis -u 999 redis \
    && mkdir /data && chown redis:redis /data
COPY --from=build /src/target/release/ferrokv /usr/local/bin/ferrokv
COPY docker-entrypoint.sh /usr/local/bin/
WORKDIR /data
VOLUME /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["ferrokv"]
