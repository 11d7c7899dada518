#!/usr/bin/env node
// The compiled CLI lives in dist/; `npm run build` (run by the README's set-up) makes it.
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2)));
