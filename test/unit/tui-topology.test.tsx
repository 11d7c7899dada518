// The TUI with the API's catalog (--k8s): the TOPO column's same-zone share and fallback mark, and the opened
// Service's topology lines, for picks counted by hand (test/helpers/topology-events.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createState } from '../../src/aggregator/state.js';
import { AggregatorFrameSource } from '../../src/tui/aggregator-source.js';
import { topologyEvents } from '../helpers/topology-events.js';
import { screenHolds, waitFor } from '../helpers/wait.js';

process.env.FORCE_COLOR = '1';
const { render } = await import('ink-testing-library');
const { App } = await import('../../src/tui/app.js');

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the terminal's escape sequences (ESC [ ... m)
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

test('TOPO: same-zone share per Service, ! where a node falls back; the detail names the cause', async () => {
  const source = new AggregatorFrameSource(createState({ windowSeconds: 3600 }), 'synthetic');
  source.push(topologyEvents());
  const app = render(<App source={source} fps={50} />);
  const text = () => plain(app.lastFrame() ?? '');
  try {
    await waitFor(
      'the list with TOPO',
      screenHolds(text, (s) => s.includes('TOPO') && s.includes('lab/api:http')),
      3000,
    );
    const line = (name: string) =>
      text()
        .split('\n')
        .find((l) => l.includes(name)) ?? '';
    // web: 4 of 5 picks in the picking node's zone; api: 0 of 2, and its nodes fall back (C has no zone hint).
    assert.match(line('lab/web:http'), / 80%\s*$/);
    assert.match(line('lab/api:http'), / 0%!\s*$/);
    app.stdin.write('/api\r');
    await waitFor(
      'the filter',
      screenHolds(text, (s) => s.includes('› lab/api:http') && !s.includes('› lab/web')),
      3000,
    );
    app.stdin.write('\r');
    await waitFor(
      'the detail',
      screenHolds(text, (s) => s.includes('topology PreferSameZone')),
      3000,
    );
    assert.match(text(), /topology PreferSameZone: 0% same zone \(0 picks\), 2 cross-zone/);
    assert.match(text(), /n1 \(a\): same-zone hints ignored: endpoint 10\.1\.3\.2:8080 has no zone hint/);
  } finally {
    app.unmount();
  }
});
