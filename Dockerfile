# syntax=docker/dockerfile:1
# drawbridge: a static binary on a slim Debian that carries pg_dump/pg_restore (database
# backup and restore) and the usual transports of node commands: ssh, kubectl
# (examples/kubernetes.yaml) and the docker CLI (examples/docker.yaml).
#
# PG_MAJOR: the major version of pg_dump/pg_restore. Make it Kong's PostgreSQL server's major
# version: pg_dump refuses a server newer than itself, and an archive a newer pg_dump wrote may
# hold settings an older server rejects on restore (pg_dump 17 writes transaction_timeout).
# 15 is bookworm's own; any other comes from apt.postgresql.org (PGDG), set up by Debian's
# postgresql-common. Example: docker build --build-arg PG_MAJOR=16 -t drawbridge .
ARG PG_MAJOR=15
ARG KUBECTL_VERSION=v1.33.0
ARG DOCKER_CLI_VERSION=27

FROM registry.k8s.io/kubectl:${KUBECTL_VERSION} AS kubectl
FROM docker:${DOCKER_CLI_VERSION}-cli AS dockercli

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
    -o /out/drawbridge ./cmd/drawbridge

FROM debian:bookworm-slim
ARG PG_MAJOR
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates openssh-client \
 && if [ "$PG_MAJOR" != 15 ]; then \
      apt-get install -y --no-install-recommends postgresql-common \
      && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y; \
    fi \
 && apt-get install -y --no-install-recommends "postgresql-client-$PG_MAJOR" \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/drawbridge --shell /usr/sbin/nologin drawbridge \
 && mkdir -p /var/lib/drawbridge /etc/drawbridge \
 && chown drawbridge:drawbridge /var/lib/drawbridge
COPY --from=build /out/drawbridge /usr/local/bin/drawbridge
COPY --from=kubectl /bin/kubectl /usr/local/bin/kubectl
COPY --from=dockercli /usr/local/bin/docker /usr/local/bin/docker
USER drawbridge
WORKDIR /var/lib/drawbridge
# state_file and backup_dir live here (the config's ./data/… paths resolve under it).
VOLUME ["/var/lib/drawbridge"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/drawbridge"]
CMD ["serve", "--config", "/etc/drawbridge/config.yaml"]
