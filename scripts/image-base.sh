#!/usr/bin/env bash
# Makes locally, with podman, the base image deploy/Dockerfile's FROM lines name (no registry is reachable here):
# Debian bookworm plus the Node binary and npm, from the files scripts/image-inputs.sh makes or fetches.
# Usage: scripts/image-base.sh; prints the image's name. Cached in ${STICKYSCOPE_CACHE:-/var/cache/stickyscope}/image
# (quick when made).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${STICKYSCOPE_CACHE:-/var/cache/stickyscope}/image
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)

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
# Under the lock, any import directory left here is an interrupted run's.
rm -rf "$CACHE"/rootfs.*

# The image is taken as made only if these very scripts made it: a changed step makes it again.
key=$(cat scripts/image-base.sh scripts/image-inputs.sh | sha256sum | cut -c1-12)
stamp="$CACHE/bases.list"
if [ -f "$stamp" ]; then
  want=$(awk -v i="$image" -v k="$key" '$1 == i && $3 == k { print $2 }' "$stamp")
  have=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  if [ -n "$want" ] && [ "$want" = "$have" ]; then
    echo "$image"
    exit 0
  fi
fi

mapfile -t inputs < <(bash scripts/image-inputs.sh)
[ ${#inputs[@]} -eq 3 ] || { say "failed to make the image's inputs (scripts/image-inputs.sh)"; exit 1; }
rootfs_tar=${inputs[0]} node_tgz=${inputs[1]} npm_tgz=${inputs[2]}

say "importing $image"
work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xf "$rootfs_tar"
tar -C "$work/usr/local" -xzf "$node_tgz" --strip-components=1 package/bin/node
mkdir -p "$work/usr/local/lib/node_modules/npm"
tar -C "$work/usr/local/lib/node_modules/npm" -xzf "$npm_tgz" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/usr/local/bin/npx"
rm -rf "$work"/var/lib/apt/lists/* "$work"/var/cache/apt/*.bin
tar -C "$work" -c . | "${PODMAN[@]}" import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" --change 'CMD ["node"]' - "$image" >/dev/null
id=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image")
{
  [ -f "$stamp" ] && awk -v i="$image" '$1 != i' "$stamp"
  echo "$image $id $key"
} >"$stamp.new"
mv "$stamp.new" "$stamp"
echo "$image"
