# editkit — see README.md. Every target works on a fresh machine after
# .ci/run (or `make deps`) has installed the system tools the tests use.

GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
DEMO     ?= demo
PLATFORMS := darwin/arm64 darwin/amd64 windows/amd64 linux/amd64

.PHONY: all build test test-short lint demo bench dist deps clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/editkit ./cmd/editkit
	$(GO) build -trimpath -o $(BIN)/mkmedia ./cmd/mkmedia

# The full suite, as CI runs it: every prerequisite (b3sum, xmllint, FUSE,
# exFAT, tmpfs mounts, the S3 server) must be there; a missing one fails.
test: lint
	EDITKIT_REQUIRE_ALL=1 $(GO) test -race -timeout 80m -count=1 ./...

# Quick run for development: long end-to-end tests and privileged ones skip
# (saying so) when their tools are missing.
test-short:
	$(GO) test -short ./...

lint:
	@out=$$(gofmt -l cmd internal); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@for p in $(PLATFORMS); do GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./... || exit 1; done

# A tour on the embedded defaults: generated sample media copied to two
# "drives" (folders under $(DEMO)/), then checked with b3sum.
demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)/drive-anna $(DEMO)/drive-ben
	$(BIN)/mkmedia --seed 7 --size 200MiB $(DEMO)/media
	$(BIN)/editkit copy --label Anna --label Ben $(DEMO)/media $(DEMO)/drive-anna $(DEMO)/drive-ben
	cd $(DEMO)/drive-anna && b3sum --check --quiet .editkit/checksums.b3sum && echo "b3sum --check: drive-anna OK"

bench: build
	$(GO) run ./cmd/ekbench all

dist:
	@mkdir -p dist
	@for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "dist/editkit-$$os-$$arch$$ext"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/editkit-$$os-$$arch$$ext ./cmd/editkit || exit 1; \
	done

# System tools the tests and benchmarks use (Debian/Ubuntu).
deps:
	bash .ci/install-deps

clean:
	rm -rf $(BIN) dist $(DEMO)
