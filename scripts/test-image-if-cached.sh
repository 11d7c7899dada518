#!/usr/bin/env bash
# The image suite inside `npm test` (and so CI): it runs whenever this machine has built the base image once (warm:
# about a minute), and otherwise says how to build it, since a cold build takes about 5 minutes of CI's time. The
# base's cache steps themselves run on every `npm test` either way, on Debian's smallest variant into a fresh cache
# folder (test/system/image-inputs.test.ts): a fresh machine's failure cannot hide behind a warm cache.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp="${STICKYSCOPE_CACHE:-/var/cache/stickyscope}/image/bases.list"
if [ "$(id -u)" -eq 0 ] && [ -s "$stamp" ] && command -v podman >/dev/null; then
  node scripts/run-tests.mjs image
else
  echo "image suite not run: its base image was never built here ($stamp); 'npm run test:image' builds it (about 5 minutes) and runs it"
fi
