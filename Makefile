# otpknock: make help lists the targets.
GO         ?= go
BIN        := bin/otpknock
SERVER     := bin/otpknockd
MANDIR     := bin/man
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X main.version=$(VERSION)
FUZZTIME   ?= 10s
BENCHTIME  ?= 1s
GOBIN      := $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2
DIST_GOOS  := linux darwin windows freebsd

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     := $(PREFIX)/bin
SHAREDIR   := $(PREFIX)/share
UNITDIR    ?= $(PREFIX)/lib/systemd/system
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
PKGDIR     ?= dist/packages

.PHONY: help deps deps-demo build man dist manifests dist-check test lint vet-all bench bench-compare bench-scale bench-flood bench-fleet fuzz demo demo-fleet vectors vectors-check install package package-check adversarial clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## install missing system packages (apt, as root) and Go modules: all the tests, benches and package checks need
	@scripts/deps.sh all

deps-demo: ## install only what make demo needs (iproute2, python3) and Go modules
	@scripts/deps.sh demo

build: ## build bin/otpknock, the client (TUI included), and bin/otpknockd, the server and its administration (static)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/otpknock
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(SERVER) ./cmd/otpknockd

test: deps ## run every test, root/netns ones included, and the vector cross-check
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) --no-print-directory vectors-check

vectors-check: ## verify every vector file of testdata/ with the independent Python reference
	python3 docs/reference/derive_v1.py testdata/derive_v1.json testdata/derive_v1_errors.json
	python3 docs/reference/uri_v1.py testdata/uri_v1.json
	python3 docs/reference/packet_v1.py testdata/packet_v1.json
	python3 docs/reference/packet_ed25519_v1.py testdata/packet_ed25519_v1.json
	python3 docs/reference/fleet_v1.py testdata/fleet_v1.json

vectors: ## rewrite the vector files of testdata/ from this implementation
	$(GO) test ./derive -run 'TestVectors|TestErrorVectors|TestPacketVectors|TestSigPacketVectors|TestFleetVectors' -update
	$(GO) test ./provision -run TestURIVectors -update

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'lint: run gofmt -w on these files'; exit 1; }
	$(GO) vet ./...
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...

vet-all: ## go vet ./... for each GOOS otpknock ships for (on amd64)
	for os in $(DIST_GOOS); do echo "vet: $$os/amd64"; GOOS=$$os GOARCH=amd64 $(GO) vet ./... || exit 1; done

bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

adversarial: deps ## the full adversarial suite (as root, about 30 min): figures in ADVERSARIAL.md
	scripts/adversarial.sh

bench-compare: deps build ## otpknock, knockd and fwknop side by side, with floods (as root; N=50 F=20)
	@command -v knockd >/dev/null || apt-get install -y -qq knockd fwknop-server fwknop-client >/dev/null
	bench/compare.sh $${N:-50} $${F:-20}

bench-scale: deps build ## otpknock with 1, 1,000 and 100,000 users: start-up, precompute, RSS (as root)
	bench/scale.sh

bench-flood: deps build ## random-source SYN and UDP floods (trafgen) against the kernel's pre-filter, with 120 and 10,120 users (as root)
	bench/flood.sh $${EXTRA:-0 10000}

bench-fleet: deps ## a pool of three: grant fan-out through in-process NATS (200 grants), then in namespaces (as root) 200 grants to the last member's kernel set and knock-to-open through the pool beside a lone server's
	$(GO) test ./fleet -run '^$$' -bench Fanout -benchtime 200x | grep 'fan-out'
	OTPKNOCK_REQUIRE_INTEGRATION=1 $(GO) test ./e2e -count=1 -run '^$$' -bench '^BenchmarkPool$$' -benchtime 1x -timeout 15m | grep -E 'knock-to-open|fan-out|^(ok|FAIL)'

fuzz: ## run each fuzz target for FUZZTIME (default 10s)
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

demo: deps-demo build ## the demo in network namespaces: provision, a stranger blocked, the knock opening the port for the client only, expiry
	scripts/demo.sh $(BIN)

demo-fleet: deps build ## a pool of three servers behind a random load balancer on NATS JetStream, in network namespaces: one enrollment, a knock opening on every member
	scripts/demo-fleet.sh $(BIN)

dist: ## release archives for linux, darwin, windows, freebsd on amd64 and arm64, with SHA256SUMS, in dist/
	packaging/dist.sh $(VERSION) dist

manifests: ## a Homebrew formula and a Scoop manifest for the client, from dist/ (URL: where the archives will be)
	packaging/manifests.sh $(VERSION) dist $(URL)

dist-check: ## check dist/: SHA256SUMS, an archive per target holding its binary, the version
	packaging/distcheck.sh $(VERSION) dist

man: ## write the man pages of both programs (otpknock.1, otpknock-send.1, otpknockd.1, otpknockd-server.1, ...) to bin/man
	rm -rf $(MANDIR) && $(GO) run ./cmd/otpknock-man -version $(VERSION) $(MANDIR) >/dev/null

install: build man ## install both binaries, systemd units (otpknock keep's user unit too), sysusers and tmpfiles entries, example config and launchd agent, completions, man pages (PREFIX, DESTDIR)
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/otpknock
	install -D -m 0755 $(SERVER) $(DESTDIR)$(BINDIR)/otpknockd
	sed 's|/usr/bin/otpknock|$(BINDIR)/otpknock|' packaging/otpknock.service > $(BIN).service
	install -D -m 0644 $(BIN).service $(DESTDIR)$(UNITDIR)/otpknock.service
	sed 's|/usr/bin/otpknock|$(BINDIR)/otpknock|' packaging/otpknock-lock.service > $(BIN)-lock.service
	install -D -m 0644 $(BIN)-lock.service $(DESTDIR)$(UNITDIR)/otpknock-lock.service
	sed 's|/usr/bin/otpknock|$(BINDIR)/otpknock|' packaging/otpknock-keep@.service > $(BIN)-keep@.service
	install -D -m 0644 $(BIN)-keep@.service $(DESTDIR)$(USERUNITDIR)/otpknock-keep@.service
	install -D -m 0644 packaging/otpknock.sysusers $(DESTDIR)$(SYSUSERSDIR)/otpknock.conf
	install -D -m 0644 packaging/otpknock.tmpfiles $(DESTDIR)$(TMPFILESDIR)/otpknock.conf
	rm -f $(BIN).example.yaml && $(SERVER) init --config $(BIN).example.yaml --server-id CHANGE-ME --host knock.example.org --secrets-dir /etc/otpknock/secrets >/dev/null
	install -D -m 0644 $(BIN).example.yaml $(DESTDIR)$(SHAREDIR)/doc/otpknock/config.example.yaml
	sed 's|/usr/local/bin/otpknock|$(BINDIR)/otpknock|' packaging/org.otpknock.keep.plist > $(BIN).keep.plist
	install -D -m 0644 $(BIN).keep.plist $(DESTDIR)$(SHAREDIR)/doc/otpknock/examples/org.otpknock.keep.plist
	for p in otpknock otpknockd; do \
		bin/$$p completion bash > bin/$$p.bash && install -D -m 0644 bin/$$p.bash $(DESTDIR)$(SHAREDIR)/bash-completion/completions/$$p && \
		bin/$$p completion zsh > bin/$$p.zsh && install -D -m 0644 bin/$$p.zsh $(DESTDIR)$(SHAREDIR)/zsh/site-functions/_$$p && \
		bin/$$p completion fish > bin/$$p.fish && install -D -m 0644 bin/$$p.fish $(DESTDIR)$(SHAREDIR)/fish/vendor_completions.d/$$p.fish || exit 1; \
	done
	install -d $(DESTDIR)$(SHAREDIR)/man/man1 && install -m 0644 $(MANDIR)/*.1 $(DESTDIR)$(SHAREDIR)/man/man1/
	@echo "installed under $(DESTDIR)$(PREFIX); next: systemd-sysusers, systemd-tmpfiles --create otpknock.conf, then otpknockd init --config /etc/otpknock/config.yaml --server-id ID"

package: build ## .deb and .rpm for amd64 and arm64 into dist/packages (nfpm; PKGDIR)
	GO=$(GO) packaging/package.sh $(PKGDIR)

package-check: ## lintian and the .deb/.rpm payload comparison on the packages of make package
	packaging/check-packages.sh $(PKGDIR)

clean: ## remove build output
	rm -rf bin dist
