// The summary flags refuse what makes no sense in one line (exit 2), and a report made
// from summaries renders in every format (no per-client rows, no timeline to draw).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { ServeHub } from '../../src/serve/hub.js';
import type { StickyEvent } from '../../src/core/event.js';
import { dnat } from '../helpers/agent-fake-source.js';

for (const [args, said] of [
  [['report', 'x.trace', '--summaries'], /--summaries is for agents/],
  [['agent', '--summary-period', '5m'], /--summary-period expects 100ms to 60s; got '5m'/],
  [['agent', '--summary-period', 'soon'], /--summary-period expects a duration/],
  [['agent', '--metrics-max-services', '0'], /--metrics-max-services expects a whole number from 1/],
] as const)
  test(`stickyscope ${args.join(' ')}: a usage error`, async () => {
    const r = await runCli([...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, said);
    assert.equal(r.stderr.trim().split('\n').length, 2, 'one line and the --help pointer');
  });

test('a report from summaries renders as json, md and html', () => {
  const hub = new ServeHub({ windows: [60], summaries: true });
  hub.summariseRaw('n1');
  const now = Date.now() * 1000;
  const events: StickyEvent[] = Array.from({ length: 50 }, (_, i) => dnat(i, 'n1', { ts: now + i }));
  hub.apply(events);
  hub.takeRawSummaries();
  const report = hub.report('all');
  assert.equal(report.services[0]!.selections, 50);
  assert.deepEqual(report.services[0]!.clients, []);
  assert.match(hub.render(report, 'json'), /"summaries"/);
  assert.match(hub.render(report, 'md'), /10\.96\.0\.10:80\/tcp/);
  assert.match(hub.render(report, 'html'), /<html/i);
});
