// Issue 4's real-terminal check: the live `stickyscope tui --agent` in tmux, on an agent attached to a lab node with
// traffic running, against the backends' own logs. A real affinity violation is made in the kernel (the client's
// xt_recent entry is cleared until the next random pick moves it) and must show up in the event log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { labDown, labUp, readBackendLogs, runClient, type Lab } from '../../src/lab/lab.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { cliPath } from '../helpers/cli.js';
import { startAgents, type LabAgents } from '../helpers/agents.js';
import { startTmux, type Tmux } from '../helpers/tmux.js';
import { countsFor, esc, expectBackendRows, hostOf, openDetail } from '../helpers/tui-screen.js';

/** Clears `ip` from every xt_recent list of the node that holds it: the kernel forgets the client's affinity. */
function forgetAffinity(lab: Lab, ip: string): string[] {
  const ns = lab.nodes[0]!;
  const lists = execFileSync('ip', ['netns', 'exec', ns, 'ls', '/proc/net/xt_recent'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('KUBE-SEP-'));
  const holding = lists.filter((l) =>
    new RegExp(`^src=${esc(ip)} `, 'm').test(
      execFileSync('ip', ['netns', 'exec', ns, 'cat', `/proc/net/xt_recent/${l}`], { encoding: 'utf8' }),
    ),
  );
  for (const l of holding)
    execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', `echo -${ip} > /proc/net/xt_recent/${l}`]);
  return holding;
}

test('tui --agent on the lab: both Services with their backends, and a real violation in the event log', {
  timeout: 90_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix();
  // Registered first, so it runs first (after hooks run in order): whatever uses the lab stops before the lab goes.
  const stopTraffic = new AbortController();
  let background: Promise<unknown> | undefined;
  let term: Tmux | undefined;
  let agents: LabAgents | undefined;
  t.after(async () => {
    stopTraffic.abort();
    await background?.catch(() => {});
    term?.kill();
    await agents?.stopAll();
    await labDown(prefix);
  });
  const lab = await labUp({ prefix });
  agents = await startAgents(t, lab, [0]);
  const node = lab.nodes[0]!;
  const client = (name: string) => lab.clients.find((c) => c.name === name)!;
  const [c1, c2, c3] = [client('c1'), client('c2'), client('c3')];
  const sticky = lab.services.find((s) => s.serviceName === 'lab/sticky:http')!;
  const web = lab.services.find((s) => s.serviceName === 'lab/web:http')!;
  const endpointsOf = (s: typeof web) => s.endpoints.map((e) => `${e.ip}:${e.port}`);

  term = startTmux(
    `${process.execPath} ${cliPath} tui --agent ${agents.addresses()[0]} ${agents.clientArgs().join(' ')} --fps 10 --window 5m`,
    {
      cols: 160,
      rows: 50,
    },
  );
  await term.waitForText(new RegExp(`up: ${esc(node)}`), 15_000);
  // The catalog lists every Service of the rules before any traffic.
  await term.waitForText('lab/sticky:http');

  // Background traffic, one client per Service so the backends' logs say which Service
  // each connection was for (both Services' endpoints are the same ip:8080).
  const traffic = Promise.all([
    runClient(lab, 'c3', { service: 'lab/web:http', mode: 'http', count: 40, intervalMs: 100 }, stopTraffic.signal),
    runClient(lab, 'c2', { service: 'lab/sticky:http', mode: 'http', count: 20, intervalMs: 200 }, stopTraffic.signal),
  ]);
  background = traffic;

  // c1 is pinned on lab/sticky, then its kernel affinity entry is cleared before each
  // request until the random pick moves it, well within the 10 s timeout.
  const pinned = await runClient(lab, 'c1', { service: 'lab/sticky:http', mode: 'http', count: 3, intervalMs: 50 });
  assert.equal(
    new Set(pinned.map((r) => r.answer)).size,
    1,
    `c1 should be pinned: ${pinned.map((r) => r.answer).join(' ')}`,
  );
  let moved = false;
  let attempts = 0;
  for (; attempts < 20 && !moved; attempts++) {
    assert.notDeepEqual(forgetAffinity(lab, c1.ip), [], 'c1 is in an xt_recent list before each clear');
    const [r] = await runClient(lab, 'c1', { service: 'lab/sticky:http', mode: 'http', count: 1 });
    assert.ok(r?.answer, `c1's request failed: ${JSON.stringify(r)}`);
    moved = r.answer !== pinned[0]!.answer;
  }
  assert.ok(moved, 'c1 never moved to another backend in 20 clear+request attempts');
  const results = await traffic;
  assert.ok(
    results.flat().every((r) => r.answer !== null),
    'every background request is answered',
  );

  // Ground truth: c1's moves within the timeout, from the backends' logs.
  const logs = await readBackendLogs(lab);
  const c1Lines = logs.filter((l) => hostOf(l.peer) === c1.ip);
  assert.equal(c1Lines.length, pinned.length + attempts, 'the backends logged every connection c1 made');
  const moves: Array<{ from: string; to: string }> = [];
  for (let i = 1; i < c1Lines.length; i++) {
    const gap = (Date.parse(c1Lines[i]!.ts) - Date.parse(c1Lines[i - 1]!.ts)) / 1000;
    if (c1Lines[i]!.local !== c1Lines[i - 1]!.local && gap <= sticky.timeoutSeconds!)
      moves.push({ from: c1Lines[i - 1]!.local, to: c1Lines[i]!.local });
  }
  assert.equal(moves.length, 1, `the backends saw c1 move once: ${JSON.stringify(moves)}`);
  const [move] = moves as [{ from: string; to: string }];

  const violationLine = new RegExp(
    `VIOLATION ${esc(c1.ip)} → lab/sticky:http: ${esc(move.from)} → ${esc(move.to)} after \\d+\\.\\ds on ${esc(node)} \\(cause: unknown\\)`,
  );
  let screen = await term.waitForText(violationLine, 10_000);
  assert.equal(screen.match(/VIOLATION/g)?.length, moves.length, `exactly the violations the backends saw:\n${screen}`);
  const row = (name: string) => screen.split('\n').find((l) => new RegExp(`^[ ›] ${esc(name)} `).test(l));
  assert.match(
    row('lab/sticky:http') ?? '',
    /ClientIP 10s .*\s1\s+1\s*$/,
    `sticky row: 1 violation, 1 node\n${screen}`,
  );
  assert.match(
    row('lab/web:http') ?? '',
    /\snone\s.*\s0\s+1\s*$/,
    `web row: no affinity, 0 violations, 1 node\n${screen}`,
  );

  // lab/sticky's detail: its three endpoints with the selections the backends logged
  // from its clients (c1, c2), c1 on its new backend after a violation, c2 never moved.
  await openDetail(term, 'sticky', 'lab/sticky:http');
  screen = await expectBackendRows(term, countsFor(logs, [c1.ip, c2.ip]), endpointsOf(sticky));
  assert.match(screen, /affinity ClientIP 10s/);
  assert.match(screen, /violations 1\b/);
  const c1Row = new RegExp(
    `^[ ›] ${esc(c1.ip)}\\s+${esc(move.to)}\\s+${c1Lines.length}\\s+\\d+%\\s+.*violation .* from ${esc(move.from)}`,
    'm',
  );
  assert.match(screen, c1Row, 'c1: its picks, current backend and the violation it came from');
  const c2Lines = logs.filter((l) => hostOf(l.peer) === c2.ip);
  assert.equal(new Set(c2Lines.map((l) => l.local)).size, 1, 'c2 stayed on one backend (kernel affinity held)');
  assert.match(
    screen,
    new RegExp(
      `^[ ›] ${esc(c2.ip)}\\s+${esc(c2Lines[0]!.local)}\\s+${c2Lines.length}\\s+100%\\s+.*never switched`,
      'm',
    ),
  );

  // lab/web's detail: its endpoints with c3's selections, as the backends logged them.
  term.sendKeys('Escape');
  await term.waitForText(`filter: 'sticky'`);
  term.sendKeys('Escape');
  await term.waitForText('lab/web:http');
  await openDetail(term, 'web', 'lab/web:http');
  screen = await expectBackendRows(term, countsFor(logs, [c3.ip]), endpointsOf(web));
  assert.match(screen, /affinity none/);
  assert.match(screen, new RegExp(`^[ ›] ${esc(c3.ip)}\\s+\\S+\\s+${results[0]!.length}\\s`, 'm'));

  term.sendKeys('q');
  assert.deepEqual(await term.waitForExit(), { code: 0, canonical: true, echo: true, cursorVisible: true });
  await agents.stopAll();
});
