// `--ready-file F` of the agent and serve, as a stage (stages.ts): once everything before
// it has started, the bound HOST:PORT is written to F, whole or not at all (a watcher
// polling for it never reads half an address); F is removed when the process stops.
import { rm } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.js';
import type { Stage } from './stages.js';

/** The stage writing `address()` to `path`. */
export function readyFileStage(path: string, address: () => string): Stage {
  return {
    name: `the ready file ${path}`,
    async start() {
      await writeFileAtomic(path, `${address()}\n`, 'write the ready file');
    },
    stop: () => rm(path, { force: true }),
  };
}
