#!/usr/bin/env bash
# The image suite inside `npm test`: it runs when the base images are already cached on this machine (under a minute
# warm), and otherwise says how to run it, since a cold build takes about 5.5 minutes of CI's time.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp="${STICKYSCOPE_IMAGE_CACHE:-/var/cache/stickyscope/image}/bases.list"
if [ "$(id -u)" -eq 0 ] && [ -s "$stamp" ] && command -v podman >/dev/null; then
  node scripts/run-tests.mjs image
else
  echo "image suite not run: its base images are not cached here ($stamp); 'npm run test:image' builds them (about 5.5 minutes) and runs it"
fi
