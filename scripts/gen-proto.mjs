// Generates the static protobufjs codec of proto/stickyscope.proto (pbjs) and its types (pbts)
// into src/protocol/generated/ before tsc, which checks against the .d.ts but does not emit
// JavaScript it did not compile, so the .js is also put beside the compiled wire.js in dist/.
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import cli from 'protobufjs-cli';

const path = (p) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const proto = path('proto/stickyscope.proto');
const outDir = path('src/protocol/generated');
const distDir = path('dist/src/protocol/generated');
const js = `${outDir}/stickyscope.js`;
const dts = `${outDir}/stickyscope.d.ts`;

/** Runs one of the CLI's commands; they report failure through the callback, some after printing usage. */
const run = (cmd, args) =>
  new Promise((resolve, reject) =>
    cmd.main(args, (err) =>
      err ? reject(new Error(`failed to generate the wire code from ${proto}: ${err.message}`)) : resolve(),
    ),
  );

mkdirSync(outDir, { recursive: true });
// Only what wire.ts uses: message classes with encode and decode (the service is served by
// service-def.ts with grpc-js, and plain objects need no verify or conversion).
await run(cli.pbjs, [
  ...['-t', 'static-module', '-w', 'es6', '-o', js],
  ...['--no-create', '--no-verify', '--no-convert', '--no-delimited', '--no-typeurl', '--no-service'],
  proto,
]);
await run(cli.pbts, ['-o', dts, js]);
mkdirSync(distDir, { recursive: true });
copyFileSync(js, `${distDir}/stickyscope.js`);
