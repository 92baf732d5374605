# weft: `sudo make lab` builds weft and brings up a lab; `sudo make test` runs every test.
SHELL := /bin/bash
# sudo resets PATH; Go's standard install location keeps `sudo make ...` working.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
PREFIX ?= /usr/local
BIN := bin/weft
CNI_BIN := bin/weft-cni
SHIM_BIN := bin/weft-shim

K8S_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null)
K8S_MINOR := $(word 2,$(subst ., ,$(K8S_VERSION)))
WEFT_VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
BUILD_DATE := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# The API server and kubectl report the Kubernetes version from these; without them they say v0.0.0-master.
K8S_LDFLAGS := $(foreach pkg,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	-X '$(pkg).gitVersion=$(K8S_VERSION)' -X '$(pkg).gitMajor=1' -X '$(pkg).gitMinor=$(K8S_MINOR)' \
	-X '$(pkg).gitTreeState=clean' -X '$(pkg).buildDate=$(BUILD_DATE)')
LDFLAGS := -s -w $(K8S_LDFLAGS) \
	-X 'github.com/weftnet/weft/internal/version.Weft=$(WEFT_VERSION)' \
	-X 'github.com/weftnet/weft/internal/version.Kubernetes=$(K8S_VERSION)'

# Packages with unit tests; test/e2e runs labs and goes on its own, after them. test/hoststate
# also goes alone: it compares snapshots of the host's namespaces and mounts, which the other
# packages' root tests change while they run (go test runs packages side by side).
UNIT_PKGS = $(shell $(GO) list ./... | grep -v -e /test/e2e -e /test/hoststate -e /internal/embedded -e /cmd/weft$$)

.PHONY: all build deps install lab test unit e2e conformance fuzz bench clean

all: build

build: $(BIN) $(CNI_BIN) $(SHIM_BIN)

$(BIN): FORCE
	$(GO) build -ldflags "$(LDFLAGS)" -o $@ ./cmd/weft

# The CNI plugin and the container shim are small binaries of their own, quick to exec;
# the node runtime finds them next to weft.
$(CNI_BIN): FORCE
	$(GO) build -ldflags "-s -w" -o $@ ./cmd/weft-cni

$(SHIM_BIN): FORCE
	$(GO) build -ldflags "-s -w" -o $@ ./cmd/weft-shim

FORCE:

deps:
	hack/install-deps.sh

install: build
	install -m 0755 $(BIN) $(PREFIX)/bin/weft
	install -m 0755 $(CNI_BIN) $(PREFIX)/bin/weft-cni
	install -m 0755 $(SHIM_BIN) $(PREFIX)/bin/weft-shim

# The first README command: everything from a fresh clone to a running three-node lab.
lab: deps install
	$(PREFIX)/bin/weft lab up $(LAB_FLAGS)

# The second README command: unit tests with the race detector, then the labs end to end, then
# Kubernetes' own [sig-network] [Conformance] specs against a lab (make conformance).
test: deps build unit e2e conformance

unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 $(UNIT_PKGS)
	$(GO) test -race -count=1 ./test/hoststate/
	cd test/conformance && $(GO) vet ./run/ && $(GO) test -race -count=1 ./run/

# The output streams as with -v, then a digest repeats each failed test's own output, so the
# cause is at the end of a long log.
e2e: build
	set -o pipefail; WEFT_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 40m -json ./test/e2e/ | $(GO) run ./test/failures

# Kubernetes' own [sig-network] specs, from the e2e suite of the release weft embeds, against a
# lab made for the run (see README "Conformance"). Reports land in _output/conformance/latest.
FOCUS ?= \[sig-network\].*\[Conformance\]
SKIP ?=
PARALLEL ?= 4
conformance: build
	cd test/conformance && $(GO) run ./run -weft $(CURDIR)/$(BIN) -tools $(CURDIR)/.tools/conformance \
		-out $(CURDIR)/_output/conformance -focus '$(FOCUS)' -skip '$(SKIP)' -lab-flags '$(LAB_FLAGS)' -parallel $(PARALLEL)

bench: build
	$(GO) run ./bench/labup --weft $(CURDIR)/$(BIN)
	$(GO) run ./bench/pods --weft $(CURDIR)/$(BIN) --pods 50 --nodes 3
	$(GO) run ./bench/overlay --weft $(CURDIR)/$(BIN) --duration 4s --rounds 3
	$(GO) run ./bench/proxy

clean:
	rm -rf bin
