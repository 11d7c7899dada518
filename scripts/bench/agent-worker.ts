// Child process: a real agent (startProbe + startAgent, as `stickyscope agent` runs them) on the lab node, counting
// what the probe's stream delivers before the agent serves it; `--replay WRAPPER` runs a helper that replays records.
// Usage: node agent-worker.js --netns PATH --node NAME [--replay PATH] [--tls-cert F --tls-key F --tls-client-ca F]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { StickyEvent } from '../../src/core/event.js';
import { startProbe } from '../../src/probe/probe.js';
import { startAgent } from '../../src/agent/agent.js';
import { agentCredentials } from '../../src/protocol/tls.js';
import { cpuNow, serveStats } from './worker.js';

const { values } = parseArgs({
  options: {
    netns: { type: 'string' },
    node: { type: 'string' },
    replay: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-client-ca': { type: 'string' },
  },
});
const node = values.node ?? 'bench-node';
const probe = startProbe(
  values.replay ? { node, helperPath: values.replay } : { node, netns: values.netns, insertEvents: false },
);
let events = 0;
let dnat = 0;
let lost = 0;
probe.on('events', (batch: StickyEvent[]) => {
  events += batch.length;
  for (const e of batch) {
    if (e.type === 'dnat') dnat++;
    else if (e.type === 'lost') lost += e.count;
  }
});
probe.on('error', (err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 1;
});
await probe.ready;
const tls = values['tls-cert']
  ? { cert: values['tls-cert'], key: values['tls-key']!, clientCa: values['tls-client-ca']! }
  : undefined;
const agent = await startAgent(probe, {
  node,
  listen: '127.0.0.1:0',
  credentials: tls ? await agentCredentials(tls, node) : undefined,
  netns: values.netns,
  xtRecentDir: probe.pid === undefined ? undefined : `/proc/${probe.pid}/net/xt_recent`,
});

/** The helper's CPU seconds from /proc/PID/schedstat (its time on a CPU, in ns: /proc/PID/stat counts 10 ms ticks). */
function helperCpu(): number {
  try {
    return Number(readFileSync(`/proc/${probe.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return 0;
  }
}

serveStats(
  { address: agent.address, helperPid: probe.pid ?? null },
  () => ({ events, dnat, lost, cpu: cpuNow(), helperCpu: helperCpu() }),
  async () => {
    await agent.stop();
    await probe.stop();
  },
);
