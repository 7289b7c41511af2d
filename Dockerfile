# syntax=docker/dockerfile:1
# drawbridge: a static binary on a slim Debian that carries pg_dump/pg_restore (database
# backup and restore) and ssh (the usual transport of node commands).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
    -o /out/drawbridge ./cmd/drawbridge

FROM debian:bookworm-slim
# pg_dump must be at least as new as Kong's PostgreSQL server: bookworm's client is 15.
# For a newer server, install postgresql-client-NN from apt.postgresql.org here instead.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/drawbridge --shell /usr/sbin/nologin drawbridge \
 && mkdir -p /var/lib/drawbridge /etc/drawbridge \
 && chown drawbridge:drawbridge /var/lib/drawbridge
COPY --from=build /out/drawbridge /usr/local/bin/drawbridge
USER drawbridge
WORKDIR /var/lib/drawbridge
# state_file and backup_dir live here (the config's ./data/… paths resolve under it).
VOLUME ["/var/lib/drawbridge"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/drawbridge"]
CMD ["serve", "--config", "/etc/drawbridge/config.yaml"]
