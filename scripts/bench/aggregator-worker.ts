// Child process: the aggregator as `report --agent` runs it (subscribeAgents ->
// applyEvents), counting what reached it; over mutual TLS when given the files.
//   node aggregator-worker.js ADDRESS [NODE CA CERT KEY]
import { UsageError } from '../../src/core/errors.js';
import { subscribeAgents } from '../../src/protocol/client.js';
import { applyEvents, createState } from '../../src/aggregator/state.js';
import { cpuNow, serveStats } from './worker.js';

const [address, node, ca, cert, key] = process.argv.slice(2);
if (address === undefined) throw new UsageError('aggregator-worker expects an agent ADDRESS argument; got none');
const tls = ca && cert && key ? { ca, cert, key } : undefined;
const state = createState();
const stop = new AbortController();
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
  })) {
    applyEvents(state, batch);
    // Wall-clock ms: the bench compares it with times taken in its own process.
    const now = Date.now();
    if (firstMs === 0) firstMs = now;
    lastMs = now;
    events += batch.length;
    for (const e of batch) {
      if (e.type === 'dnat') dnat++;
      else if (e.type === 'lost') lost += e.count;
    }
  }
})();
await isUp;
serveStats(
  { up: true },
  () => ({ events, dnat, lost, firstMs, lastMs, pairs: state.pairs.size, cpu: cpuNow() }),
  async () => {
    stop.abort();
    await done;
  },
);
