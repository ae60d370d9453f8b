# FireLater: release build, then a slim runtime that runs as an unprivileged user against the
# PostgreSQL given in DATABASE_URL (the image carries no database server).
#   docker build -t firelater .
#   docker run -e DATABASE_URL=postgres://user:pass@db:5432/firelater -p 8080:8080 firelater

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin firelater

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/firelater --create-home --shell /usr/sbin/nologin firelater
# Templates and migrations are compiled into the binary; static assets live here
# (the binary looks in /usr/share/firelater/static when FIRELATER_STATIC_DIR is unset).
COPY --from=build /src/target/release/firelater /usr/local/bin/firelater
COPY --from=build /src/static /usr/share/firelater/static
USER firelater
WORKDIR /var/lib/firelater
ENV FIRELATER_ADDR=0.0.0.0:8080 \
    FIRELATER_DATA_DIR=/var/lib/firelater \
    FIRELATER_DEMO=off
EXPOSE 8080
ENTRYPOINT ["firelater"]
CMD ["serve"]
