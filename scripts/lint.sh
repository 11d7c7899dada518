#!/usr/bin/env bash
# npm run lint: Biome (format and lint; warnings fail, info-level suggestions are not shown) over the TypeScript,
# knip for exports nothing imports (knip.json names the entry points: the CLI, child programs, scripts, tests), then
# clang-format over the C sources, checked against .clang-format without rewriting.
set -euo pipefail
cd "$(dirname "$0")/.."

npx --no-install biome check --error-on-warnings --diagnostic-level=warn
npx --no-install knip --include exports,types,nsExports,nsTypes,enumMembers,duplicates --no-progress
clang-format --dry-run -Werror bpf/*.c bpf/*.h src/probe/native/*.c src/probe/native/*.h bench/*.c
