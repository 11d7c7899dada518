#!/usr/bin/env node
// `kubectl stickyscope ...`: kubectl runs this executable when it is on PATH (npm i -g installs it). The compiled CLI
// lives in dist/; `npm run build` makes it.
import('../dist/src/cli/kubectl-plugin.js').then((m) => m.main(process.argv.slice(2)));
