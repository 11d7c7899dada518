// `stickyscope lab api`: the lab's Services, EndpointSlices and Nodes served as a cluster's API (src/lab/api-server.ts),
// in the foreground until Ctrl-C, so that `tui --k8s`, `report --k8s` and kubectl work on the lab. What the lab changes
// (`lab endpoints`) is served within a second; `lab down` ends it.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, shutdownSignal } from '../command.js';
import { startApiServer } from '../../lab/api-server.js';
import { applyLabObjects } from '../../lab/cluster-objects.js';
import { loadLab } from '../../lab/lab.js';
import { readState, stateDirOf } from '../../lab/state.js';

/** How often the lab's state is read for changes. */
const POLL_MS = 1000;

export async function api(argv: string[]): Promise<number> {
  const { values } = parse(argv, { prefix: { type: 'string', default: 'lab' } });
  const prefix = values.prefix;
  const lab = await loadLab(prefix);
  const dir = join(stateDirOf(prefix), 'api');
  const server = await startApiServer({ dir });
  const signal = shutdownSignal();
  try {
    let applied = applyLabObjects(server, lab);
    let seen = JSON.stringify(lab.config);
    process.stdout.write(
      `lab ${prefix}'s API: ${server.url} (Services, EndpointSlices, Nodes); kubeconfig ${server.kubeconfig}\n` +
        `  e.g. stickyscope report --agent ADDR --k8s --kubeconfig ${server.kubeconfig}; Ctrl-C stops it\n`,
    );
    while (!signal.aborted) {
      await sleep(POLL_MS, undefined, { signal }).catch(() => {});
      if (signal.aborted) break;
      const state = readState(prefix);
      if (!state) {
        process.stderr.write(`stickyscope lab api: lab ${prefix} is down; stopping\n`);
        return 0;
      }
      const text = JSON.stringify(state.config);
      if (text === seen) continue;
      seen = text;
      const now = applyLabObjects(server, await loadLab(prefix));
      const kept = new Set(now.map((k) => k.join('/')));
      for (const [resource, namespace, name] of applied)
        if (!kept.has([resource, namespace, name].join('/'))) server.remove(resource, namespace, name);
      applied = now;
    }
    return 0;
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
