# drawbridge — make targets. `make test` is what CI runs (.ci/run).
GO       ?= go
BIN      := bin/drawbridge
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
GOFILES   = $(shell git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './vendor/*')

.PHONY: all build test bench demo deps test-deps fmt-check vet clean

all: build

## build: static binaries in bin/: drawbridge, kongsim (the Kong simulator) and drawbridge-demo
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/drawbridge
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/kongsim ./cmd/kongsim
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/drawbridge-demo ./cmd/drawbridge-demo

## demo: a whole upgrade, approval and rollback in the browser (prints one URL; Ctrl-C stops)
demo:
	@scripts/ensure-deps.sh --demo
	$(GO) build -o bin/kongsim ./cmd/kongsim
	$(GO) build -o bin/drawbridge-demo ./cmd/drawbridge-demo
	bin/drawbridge-demo

## deps: install (as root) or name what the tests need: PostgreSQL, pg_dump, Prometheus
deps:
	@scripts/ensure-deps.sh

test-deps:
	@scripts/ensure-deps.sh --browser

## fmt-check: fail when gofmt would change a file
fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## vet: go vet (the product and deploy/, the deployment checks' own module)
vet:
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...

## test: deps (with Chromium for the console's browser test), gofmt, go vet, then every test with the race detector
## (-p 3: three test binaries at once, so the real-time scheduling tests' waiting leaves the CPU to others)
## deploy/ is a module of its own (Helm's and Kubernetes' packages stay out of the binary):
## the chart rendered and decoded strictly, deploy/manifests current, the lab's compose file
test: test-deps fmt-check vet
	$(GO) test -race -count=1 -p 3 -timeout 9m ./...
	cd deploy && $(GO) test -count=1 -timeout 5m ./...

## bench: the benchmarks (timing targets live here, not in tests)
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 20m ./...

clean:
	rm -rf bin
