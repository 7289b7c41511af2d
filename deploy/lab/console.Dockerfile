# syntax=docker/dockerfile:1
# The lab's Slack: `drawbridge-demo console`, the demo's console alone, built from this
# repository (the build context is its root; deploy/lab/compose.yaml sets it). It serves
# Slack's Web API to drawbridge and the channel's page to you on :8090, and sends your
# commands and clicks to drawbridge signed with the signing secret. See docs/lab.md.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/drawbridge-demo ./cmd/drawbridge-demo

FROM debian:bookworm-slim
RUN useradd --system --uid 10002 --user-group --home-dir /var/lib/drawbridge-console --shell /usr/sbin/nologin console \
 && mkdir -p /var/lib/drawbridge-console \
 && chown console:console /var/lib/drawbridge-console
COPY --from=build /out/drawbridge-demo /usr/local/bin/drawbridge-demo
USER console
WORKDIR /var/lib/drawbridge-console
# The channel (console.json), kept across restarts.
VOLUME ["/var/lib/drawbridge-console"]
EXPOSE 8090
ENTRYPOINT ["/usr/local/bin/drawbridge-demo", "console"]
CMD ["-listen", ":8090", "-data", "/var/lib/drawbridge-console"]
