// What the live UI costs under load: synthetic selections paced into the aggregator, alone, then with the TUI
// rendering into a fake terminal; prints frames/s and CPU cores used, against the budget.
// Usage: node dist/scripts/bench-tui.js [--rate 50000] [--seconds 8] [--fps 10] [--json]
import { parseArgs } from 'node:util';
import { EventEmitter } from 'node:events';
import type { CatalogEvent, DnatEvent, StickyEvent } from '../src/core/event.js';
import type { FrameSource } from '../src/tui/view-model.js';
import { fakeStdin } from '../test/helpers/fake-stdin.js';

const BUDGET_CORES = 0.5;

const { values } = parseArgs({
  options: {
    rate: { type: 'string' },
    seconds: { type: 'string' },
    fps: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const rate = Number(values.rate ?? 50_000);
const seconds = Number(values.seconds ?? 8);
const fps = Number(values.fps ?? 10);

// Under CI, Ink draws no live frames: this measures drawing, so it must not think it is in CI.
delete process.env.CI;
delete process.env.CONTINUOUS_INTEGRATION;
// What `stickyscope tui` runs with (React's development build costs several times more per frame).
process.env.NODE_ENV ??= 'production';
const { createState } = await import('../src/aggregator/state.js');
const { AggregatorFrameSource } = await import('../src/tui/aggregator-source.js');
const { feedReplay } = await import('../src/tui/replay-feed.js');
const { runTui } = await import('../src/tui/run.js');

/** 20 services with ClientIP affinity over 3-6 endpoints, 20,000 clients that mostly stay put. */
function generate(n: number): StickyEvent[] {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 4294967296;
  };
  const t0 = Date.UTC(2026, 10, 23, 12) * 1000;
  const services = Array.from({ length: 20 }, (_, i) => ({
    address: `10.96.0.${10 + i}:80`,
    endpoints: Array.from({ length: 3 + (i % 4) }, (_, j) => `10.1.${i}.${2 + j}:8080`),
  }));
  const catalog: CatalogEvent = {
    type: 'catalog',
    ts: t0,
    node: 'bench-node',
    services: services.map((s, i) => ({
      service: `${s.address}/tcp`,
      name: `bench/svc-${i}:http`,
      endpoints: s.endpoints,
      affinity: { mode: 'ClientIP', timeoutSeconds: 10800, source: 'rules' },
    })),
  };
  const last = new Map<number, string>();
  const out: StickyEvent[] = [catalog];
  for (let i = 0; i < n; i++) {
    const si = Math.floor(rand() * services.length);
    const s = services[si]!;
    const c = Math.floor(rand() * 20_000);
    const key = si * 100_000 + c;
    let backend = last.get(key);
    if (backend === undefined || rand() < 0.001) backend = s.endpoints[Math.floor(rand() * s.endpoints.length)]!;
    last.set(key, backend);
    const ev: DnatEvent = {
      type: 'dnat',
      ts: t0 + 1000 + (i * 1e6) / rate,
      node: 'bench-node',
      proto: 'tcp',
      client: `10.${2 + (c >> 16)}.${(c >> 8) & 255}.${c & 255}:${40000 + (i % 20000)}`,
      service: s.address,
      backend,
      hook: 'prerouting',
      ctId: i.toString(16),
    };
    out.push(ev);
  }
  return out;
}

async function* once(events: StickyEvent[]) {
  yield events;
}

/** Feeds the events paced at `rate`; returns CPU cores used over the run. */
async function feed(
  source: { push(e: StickyEvent[]): void },
  events: StickyEvent[],
  during?: (elapsed: number) => void,
) {
  const ac = new AbortController();
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const poll = during && setInterval(() => during((performance.now() - wall0) / 1000), 100);
  await feedReplay(once(events), { speed: 1, signal: ac.signal, push: (e) => source.push(e) });
  if (poll) clearInterval(poll);
  const wall = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { wall, cores: (cpu.user + cpu.system) / 1e6 / wall };
}

function fakeTerminal() {
  const stdout = Object.assign(new EventEmitter(), { columns: 160, rows: 50, isTTY: true, write: () => true });
  const stdin = fakeStdin();
  return { stdout, stdin };
}

const events = generate(Math.round(rate * seconds));

const alone = await feed(new AggregatorFrameSource(createState({ windowSeconds: 60 }), 'bench'), events);

const source = new AggregatorFrameSource(createState({ windowSeconds: 60 }), 'bench');
let snapshots = 0;
let snapshotMs = 0;
const counted: FrameSource = {
  snapshot(focus) {
    const t = performance.now();
    const v = source.snapshot(focus);
    snapshotMs += performance.now() - t;
    snapshots++;
    return v;
  },
  drainNotable: () => source.drainNotable(),
};
const { stdout, stdin } = fakeTerminal();
let frames = 0;
const app = runTui(counted, { fps, stdout: stdout as never, stdin: stdin as never, onRender: () => frames++ });
let opened = false;
// Half the run on the list, half on one service's detail (its sparkline scans the window).
const withTui = await feed(source, events, (elapsed) => {
  if (!opened && elapsed > seconds / 2) {
    opened = true;
    stdin.type('\r');
  }
});
app.unmount();
await app.waitUntilExit();

const framesPerSecond = frames / withTui.wall;
const ok = withTui.cores <= BUDGET_CORES;
if (values.json) {
  // For `npm run bench`, which puts it in its table.
  console.log(
    JSON.stringify({
      rate,
      fps,
      framesPerSecond,
      cores: withTui.cores,
      aloneCores: alone.cores,
      budgetCores: BUDGET_CORES,
    }),
  );
} else {
  console.log(
    `bench-tui: ${rate} ev/s for ${withTui.wall.toFixed(1)} s, fps ${fps}: ${framesPerSecond.toFixed(1)} frames/s drawn, ` +
      `${(snapshots / withTui.wall).toFixed(1)} snapshots/s at ${(snapshotMs / Math.max(1, snapshots)).toFixed(2)} ms each; ` +
      `CPU ${withTui.cores.toFixed(2)} core with the TUI (aggregator alone ${alone.cores.toFixed(2)}); budget <= ${BUDGET_CORES} core: ${ok ? 'ok' : 'OVER'}`,
  );
}
