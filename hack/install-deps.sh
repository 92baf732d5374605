#!/usr/bin/env bash
# Installs the Debian packages weft's lab and tests use. Safe to run again; needs root.
set -euo pipefail
packages=(
  iproute2 iputils-ping nftables iptables conntrack  # the kernel's network, seen and driven by hand
  busybox-static dnsutils iperf3 curl socat          # clients the lab's pods and the tests run
  netcat-openbsd                                     # nc with the flags upstream e2e specs use (-v -t -w, -u)
  sudo make                                          # the README's commands
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || { echo "install-deps: Go 1.26 is needed (https://go.dev/dl/)" >&2; exit 1; }

# cnitool drives weft-cni in test/cni exactly as a user would; it is a Go program, not a package.
root=$(cd "$(dirname "$0")/.." && pwd)
go=$(command -v go || echo /usr/local/go/bin/go)
if [ ! -x "$root/.tools/bin/cnitool" ]; then
  GOBIN="$root/.tools/bin" "$go" install github.com/containernetworking/cni/cnitool@v1.3.0
fi
