#!/usr/bin/env bash
# What `npm run test:image` needs beyond scripts/setup.sh: podman with runc (crun fails on this machine's hybrid
# cgroups), mmdebstrap to make the Debian base. Idempotent; as root.
set -euo pipefail

say() { printf 'setup-image: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  say "failed to install Debian packages: run as root (the image test runs the agent's container as root)"
  exit 1
fi
packages=(podman runc mmdebstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
