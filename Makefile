# editkit — see README.md. Every target works on a fresh machine after
# .ci/run (or `make deps`) has installed the system tools the tests use.

GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
DEMO     ?= demo
PLATFORMS := darwin/arm64 darwin/amd64 windows/amd64 linux/amd64

.PHONY: all build test test-short conformance lint fuzz fuzz-list demo bench dist deps clean man docs

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/editkit ./cmd/editkit
	$(GO) build -trimpath -o $(BIN)/mkmedia ./cmd/mkmedia

# The full suite, as CI runs it: every prerequisite (b3sum, xmllint, FUSE,
# exFAT, tmpfs mounts, the S3 server) must be there; a missing one fails.
test: lint fuzz-list
	EDITKIT_REQUIRE_ALL=1 $(GO) test -race -timeout 80m -count=1 ./...
	@echo "== hashing as on a CPU without AVX-512 (the portable kernel)"
	EDITKIT_REQUIRE_ALL=1 GODEBUG=cpu.avx512f=off $(GO) test -race -count=1 ./internal/hashing/

# The command reference. Man pages (section 1) into build/man, not
# committed: they name this machine's settings path; install them with
# e.g. cp build/man/*.1 /usr/local/share/man/man1/. The Markdown reference
# in docs/commands is committed and linked from the README (written as for
# a user whose home is /home/you); TestE2ECommandReferenceUpToDate fails
# when a command changed and `make docs` was not run.
man: build
	rm -rf build/man
	$(BIN)/editkit generate --man build/man

docs: build
	rm -rf docs/commands
	HOME=/home/you XDG_CONFIG_HOME= EDITKIT_CONFIG= $(BIN)/editkit generate --markdown docs/commands

# Quick run for development: long end-to-end tests and privileged ones skip
# (saying so) when their tools are missing.
test-short:
	$(GO) test -short ./...

# The two-way ASC MHL conformance suite alone: the ASC's reference tool
# (../shared/reference/ascmhl-tool) and editkit over the same trees, each
# mutation's verdict from both tools checked against the table in
# cmd/editkit/mhlconformance_e2e_test.go. A missing reference tool fails it.
conformance:
	EDITKIT_REQUIRE_ALL=1 $(GO) test -race -count=1 -run '^TestMHLConformance$$' ./cmd/editkit/

lint:
	@out=$$(gofmt -l cmd internal); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@for p in $(PLATFORMS); do GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./... || exit 1; done

# Fuzz targets (package:FuzzName), the one list of them: `make fuzz` runs
# each for FUZZTIME, one after another (Go fuzzes one target per
# invocation); `make test`, like any `go test`, runs their seed corpora
# (testdata/fuzz/ of each package, and the shared testdata/). A crash the
# fuzzer finds is written to the package's testdata/fuzz/FuzzName/: fix it
# and commit that file, it is then a regression test. FUZZFLAGS adds flags,
# e.g. FUZZFLAGS=-parallel=1 on a shared machine.
FUZZTIME    ?= 30s
FUZZMINTIME ?= 10s
FUZZFLAGS   ?=
FUZZ_TARGETS := \
	internal/aaf:FuzzRead \
	internal/b3sum:FuzzParse internal/b3sum:FuzzRoundTrip \
	internal/catalog:FuzzApply internal/catalog:FuzzCheckpoint \
	internal/config:FuzzLoad \
	internal/contenthub/backend:FuzzValidateKey \
	internal/hashing:FuzzParallelBLAKE3 \
	internal/hubkey:FuzzKeyringPlaintext \
	internal/hubcrypt:FuzzOpenStored \
	internal/contenthub:FuzzEntries internal/contenthub:FuzzEntriesRoundTrip internal/contenthub:FuzzEventBatch internal/contenthub:FuzzEventKeyTime internal/contenthub:FuzzOutbox internal/contenthub:FuzzPruneRecords internal/contenthub:FuzzSnapshotSummary \
	internal/manifest:FuzzCheckedLine internal/manifest:FuzzDriveInfo internal/manifest:FuzzJournal internal/manifest:FuzzManifest internal/manifest:FuzzManifestRoundTrip \
	internal/mxf:FuzzReadHeader \
	internal/mhl:FuzzChainRoundTrip internal/mhl:FuzzDigest internal/mhl:FuzzGenerationRoundTrip internal/mhl:FuzzIgnore internal/mhl:FuzzOpen internal/mhl:FuzzParse \
	internal/outbox:FuzzBatchFile \
	internal/tracker:FuzzCSVLog internal/tracker:FuzzSpreadsheetID \
	internal/treepath:FuzzCompare internal/treepath:FuzzValidate \
	internal/units:FuzzParseBytes internal/units:FuzzParseRate

fuzz: fuzz-list
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) $(FUZZFLAGS) ./$$pkg || exit 1; \
	done

# Checks that FUZZ_TARGETS names every fuzz target in the code, and only those.
fuzz-list:
	@found=$$(grep -rlE --include='*_test.go' '^func Fuzz' cmd internal | while read f; do \
		sed -nE "s|^func (Fuzz[A-Za-z0-9_]*)\(.*|$$(dirname $$f):\1|p" $$f; done); \
	bad=0; \
	for t in $$found; do case " $(FUZZ_TARGETS) " in *" $$t "*) ;; *) echo "fuzz target $$t is not in FUZZ_TARGETS (Makefile)"; bad=1;; esac; done; \
	for t in $(FUZZ_TARGETS); do case " $$(echo $$found) " in *" $$t "*) ;; *) echo "FUZZ_TARGETS (Makefile) names $$t, which does not exist"; bad=1;; esac; done; \
	exit $$bad

# The main job on the embedded defaults: generated sample media copied to
# two "drives" (folders under $(DEMO)/) and verified, the project backed up
# to a local hub folder, encrypted for a key made for the demo, and restored, new VFX pushed and pulled onto a drive,
# and every change in the CSV tracker. Nothing outside $(DEMO)/ is touched.
DEMO_ENV = EDITKIT_STATE_DIR=$(DEMO)/state EDITKIT_HUB=$(DEMO)/hub EDITKIT_CONFIG=$(DEMO)/config.toml EDITKIT_IDENTITY=$(DEMO)/identity.txt
EK = $(DEMO_ENV) $(BIN)/editkit
DEMO_ENV_NOID = EDITKIT_STATE_DIR=$(DEMO)/state EDITKIT_HUB=$(DEMO)/hub EDITKIT_CONFIG=$(DEMO)/config.toml

demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)/drive-anna $(DEMO)/drive-ben $(DEMO)/incoming && touch $(DEMO)/config.toml
	@echo "== sample media"
	$(BIN)/mkmedia --seed 7 --size 200MiB $(DEMO)/media
	@echo "== drive prep: one read, two drives, verified from the medium"
	$(EK) copy --label Anna --label Ben $(DEMO)/media $(DEMO)/drive-anna $(DEMO)/drive-ben
	$(EK) verify $(DEMO)/drive-anna
	@if command -v b3sum >/dev/null; then cd $(DEMO)/drive-anna && b3sum --check --quiet .editkit/checksums.b3sum && echo "b3sum --check: drive-anna OK"; fi
	@echo "== an encrypted hub ($(DEMO)/hub) for the demo's key ($(DEMO)/identity.txt)"
	$(EK) key new
	$(EK) hub init $(DEMO)/hub --encrypt
	@echo "== nightly backup of the project to the hub, and a restore"
	$(EK) backup --set cutting-room "$(DEMO)/media/Avid Projects" "$(DEMO)/media/Pro Tools"
	@if grep -rqa -e "Avid Projects" -e "cutting-room" $(DEMO)/hub; then echo "plaintext found in the hub!"; exit 1; else echo "no path or set name in any byte of the hub: everything but keys/ is encrypted"; fi
	@echo "== someone whose key the hub does not hold (exit 2, one sentence):"
	@$(EK) key new --identity $(DEMO)/stranger.txt >/dev/null 2>&1; EDITKIT_IDENTITY=$(DEMO)/stranger.txt $(DEMO_ENV_NOID) $(BIN)/editkit snapshots || true
	$(EK) snapshots
	$(EK) restore latest --to $(DEMO)/restored
	@echo "== new VFX pushed by the assistant, pulled onto Ben's drive"
	@head -c 3000000 /dev/urandom > $(DEMO)/incoming/VFX_010_v1.mxf
	$(EK) push --category vfx --note "VFX v1 from the vendor" --dest-path "Avid MediaFiles/MXF/7" $(DEMO)/incoming/VFX_010_v1.mxf
	$(EK) pull $(DEMO)/drive-ben
	$(EK) status $(DEMO)/drive-anna
	@echo "== the tracker (CSV, as no Google Sheet is configured): $(DEMO)/state/tracker/"
	@cat $(DEMO)/state/tracker/log.csv

# Every suite of cmd/ekbench (copy; small: 20 000 small files against restic
# and cp; verify; mhl: verify --mhl against the ASC reference tool and
# xxhsum -H2; hub; tracker); BENCH=mhl runs one.
BENCH ?= all
bench: build
	$(GO) run ./cmd/ekbench $(BENCH)
	@[ -n "$(BENCH)" ] || $(GO) test -run '^$$' -bench BLAKE3Engines -benchtime 1x ./internal/hashing/

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
