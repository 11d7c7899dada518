#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root) to build, run and test stickyscope:
# Debian packages, npm packages, then the TypeScript and BPF build. Idempotent and
# quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# The versions package.json's engines.node allows (check-node.mjs reads it), so the two cannot disagree.
if ! command -v node >/dev/null; then
  say "failed to find Node.js (node on PATH); install Node $(sed -n 's/.*"node": "\(.*\)".*/\1/p' package.json) first"
  exit 1
fi
if ! node scripts/check-node.mjs; then
  say "failed the Node.js version check above (found: $(node --version)); install a supported Node first"
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  say "failed to install Debian packages: run as root (the probe needs root anyway)"
  exit 1
fi

# clang/llvm/libbpf/bpftool build the BPF side; iptables/nftables/conntrack/iproute2
# drive the lab; tmux, curl and chromium (the HTML report check) are used by the tests;
# dnsperf and dnsmasq-base (the binary only, no system service) play kube-dns in the
# lab's kube-dns scenario; clang-format checks the C sources' format (npm run lint); strace
# kills `lab up` at exact points in the interrupted-lab test; qemu-system-x86 and mmdebstrap
# build and boot the kernel test matrix's VMs (npm run test:kernels); for its arm64 run
# (--arch arm64) qemu-system-arm boots them, qemu-user-static, binfmt-support and arch-test let
# mmdebstrap run arm64 package scripts, and gcc-aarch64-linux-gnu with Debian's arm64 libbpf,
# libelf, zlib and libnetfilter_conntrack (multiarch, hence the arm64 architecture below) cross-builds the
# probe helper (libnetfilter_conntrack reads the conntrack table over netlink: live connections);
# prometheus (the binary, started by the test itself, not the service) scrapes an agent and
# `serve` in the metrics test; nfacct creates kube-proxy's nfacct counter in the lab's nodes (iptables mode counts
# localhost NodePorts into it); kubectl runs the README's incident lines in their test (Debian's kubernetes-client
# when no kubectl is on PATH: a cluster's own kubectl, when there is one, is the one its users run).
packages=(clang clang-format llvm libbpf-dev bpftool libelf-dev zlib1g-dev libnetfilter-conntrack-dev pkg-config gcc make
  iptables nftables conntrack iproute2 util-linux tmux curl chromium dnsperf dnsmasq-base strace nfacct
  qemu-system-x86 mmdebstrap e2fsprogs prometheus
  qemu-system-arm qemu-user-static binfmt-support arch-test gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64 libnetfilter-conntrack-dev:arm64)
command -v kubectl >/dev/null || packages+=(kubernetes-client)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  say "adding Debian's arm64 architecture (arm64 libraries for the cross-built probe helper)"
  dpkg --add-architecture arm64
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

say "building (TypeScript, BPF programs, probe helper)"
npm run --silent build
say "ready: bin/stickyscope.js --help"
