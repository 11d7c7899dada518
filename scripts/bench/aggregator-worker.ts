// Child process: the aggregator as `report --agent` runs it (subscribeAgents -> applyEvents), counting what reached
// it and how long after the kernel's timestamp each event was in the aggregator's state (the model the TUI draws);
// with --count-only, a subscriber that decodes and counts but aggregates nothing, so the agent's own cost shows
// apart from the aggregator's (its latency is then kernel -> subscriber, without the
// reordering hold: one agent has no other node to wait for). Over mutual TLS when given the files.
//   node aggregator-worker.js ADDRESS [--count-only] [--node NODE --ca CA --cert CERT --key KEY]
import { parseArgs } from 'node:util';
import { UsageError } from '../../src/core/errors.js';
import { subscribeAgents } from '../../src/protocol/client.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { bucketOf, newHistogram, nowUs } from './latency.js';
import { cpuNow, serveStats } from './worker.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'count-only': { type: 'boolean', default: false },
    node: { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
  },
});
const address = positionals[0];
if (address === undefined) throw new UsageError('aggregator-worker expects an agent ADDRESS argument; got none');
const { ca, cert, key, node } = values;
const tls = ca && cert && key ? { ca, cert, key } : undefined;
const countOnly = values['count-only'];
const state = createState();
const stop = new AbortController();
const latency = newHistogram();
let events = 0;
let dnat = 0;
let lost = 0;
let firstMs = 0;
let lastMs = 0;
let up!: () => void;
const isUp = new Promise<void>((resolve) => (up = resolve));
const done = (async () => {
  for await (const batch of subscribeAgents([address], {
    signal: stop.signal,
    tls,
    nodes: node ? { [address]: node } : undefined,
    onStatus: (s) => s.state === 'up' && up(),
    // One agent: nothing to wait for from other nodes, so the counter sees events as they arrive; the aggregator keeps
    // the default hold, as the TUI and reports do.
    reorderDelayMs: countOnly ? 0 : undefined,
  })) {
    if (!countOnly) applyEvents(state, batch);
    // One clock read per batch: its events all became visible at this moment.
    const now = nowUs();
    // Wall-clock ms: the bench compares it with times taken in its own process.
    lastMs = now / 1000;
    if (firstMs === 0) firstMs = lastMs;
    events += batch.length;
    for (const e of batch) {
      if (e.type === 'dnat') {
        dnat++;
        latency[bucketOf(now - e.ts)]!++;
      } else if (e.type === 'lost') lost += e.count;
    }
  }
})();
await isUp;
serveStats(
  { up: true },
  () => ({ events, dnat, lost, firstMs, lastMs, pairs: state.pairs.size, cpu: cpuNow(), latency }),
  async () => {
    stop.abort();
    await done;
  },
);
