// `stickyscope lab scenario` as a user runs it: --list, usage errors, a run with
// --report FILE, a run in the TUI ended with q, and Ctrl-C mid-traffic. Every run must
// leave no namespace, state dir or agent of its prefix behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { cliPath, runCli, startCli } from '../helpers/cli.js';
import { startTmux } from '../helpers/tmux.js';
import { labDown } from '../../src/lab/lab.js';
import type { Report } from '../../src/report/types.js';

const NAMES = [
  'keepalive',
  'affinity-timeout',
  'kube-dns',
  'nodeport-local',
  'udp-session',
  'affinity-overflow',
  'grpc-long-lived',
  'topology',
];

function leftovers(prefix: string): string[] {
  const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${prefix}-`));
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`/run/stickyscope/lab-${prefix}/`));
  return [...ns, ...ps, ...(existsSync(`/run/stickyscope/lab-${prefix}`) ? ['state dir'] : [])];
}

test('lab scenario --list names the eight scenarios and their seeds', async () => {
  const r = await runCli(['lab', 'scenario', '--list']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]),
    NAMES,
  );
  assert.match(r.stdout, /keepalive-uneven-spread\.md/);
});

test('lab scenario: usage errors say what was wrong', async () => {
  for (const [args, pattern] of [
    [['lab', 'scenario', 'nope'], /unknown scenario 'nope'; expected one of: keepalive, /],
    [['lab', 'scenario'], /expected 'lab scenario NAME' or 'lab scenario --list'; got no name/],
    [['lab', 'scenario', 'keepalive', '--tui', '--report', 'x.json'], /--tui or --report FILE, not both/],
    [['lab', 'scenario', 'keepalive', '--duration', 'soon'], /--duration expects a duration/],
    [['lab', 'scenario', 'keepalive', '--proxy-mode', 'ipvs'], /--proxy-mode expects iptables or nftables; got 'ipvs'/],
    [
      ['lab', 'scenario', 'keepalive', '--kube-version', '1.36'],
      /chooses nftables mode's rule shape; add --proxy-mode nftables/,
    ],
    [
      ['lab', 'scenario', 'keepalive', '--proxy-mode', 'nftables', '--kube-version', '1.30'],
      /--kube-version expects one of 1.35, 1.36; got '1.30'/,
    ],
    [['lab', 'scenario', 'keepalive', '--ip-family', 'IPv7'], /--ip-family expects ipv4 or ipv6; got 'IPv7'/],
    [['lab', 'scenario', 'keepalive', '--ip-family', ''], /--ip-family expects ipv4 or ipv6; got ''/],
    [['lab', 'scenario', 'keepalive', '--ip-family', 'ipv4,ipv6'], /--ip-family expects ipv4 or ipv6; got 'ipv4,ipv6'/],
    [['lab', 'scenario', 'kube-dns', '--late-start'], /scenario kube-dns has no --late-start \(keepalive has\)/],
  ] as const) {
    const r = await runCli([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});

test('lab scenario keepalive --report FILE --proxy-mode nftables: the JSON report, the answer, nothing left behind', {
  timeout: 90_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix('scn');
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  t.after(async () => {
    await labDown(prefix);
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'report.json');
  const r = await runCli([
    'lab',
    'scenario',
    'keepalive',
    '--duration',
    '2s',
    '--prefix',
    prefix,
    '--report',
    file,
    '--proxy-mode',
    'nftables',
    '--kube-version',
    '1.36',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /building the lab '[^']+' \(nftables mode, kube-proxy 1\.36 shape, IPv4\)/);
  assert.match(r.stdout, /^Three router pods/);
  assert.match(r.stdout, /With keep-alive \(lab\/backend-keepalive:http/);
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  // The agent read the node's rules as an nftables table: the Services are named from it.
  const ka = report.services.find((s) => s.name === 'lab/backend-keepalive:http')!;
  const close = report.services.find((s) => s.name === 'lab/backend-close:http')!;
  // 3 routers x 40 requests (20/s for 2 s): one connection each with keep-alive, 40 each without.
  assert.equal(ka.selections, 3);
  assert.equal(close.selections, 120);
  assert.deepEqual(leftovers(prefix), []);
});

test('lab scenario affinity-timeout --tui: the TUI shows the Service while traffic runs; q ends the run and tears down', {
  timeout: 90_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix('scn');
  const tmux = startTmux(
    `${process.execPath} ${cliPath} lab scenario affinity-timeout --tui --duration 20s --prefix ${prefix}`,
    { cols: 150, rows: 40 },
  );
  t.after(async () => {
    tmux.kill();
    await labDown(prefix);
  });
  const frame = await tmux.waitForText(/handson\/sample-clusterip\S*\s+ClientIP 5s/, 30_000);
  t.diagnostic(frame);
  tmux.sendKeys('q');
  const end = await tmux.waitForExit(20_000);
  assert.equal(end.code, 0, tmux.capture());
  assert.ok(end.canonical && end.echo, 'the terminal is given back');
  assert.match(tmux.capture(), /removing the lab/);
  assert.deepEqual(leftovers(prefix), []);
});

test('lab scenario --ip-family ipv6: Ctrl-C during the traffic stops it and removes everything', {
  timeout: 60_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const prefix = runPrefix('scn');
  t.after(() => labDown(prefix));
  const run = startCli([
    'lab',
    'scenario',
    'keepalive',
    '--duration',
    '60s',
    '--prefix',
    prefix,
    '--ip-family',
    'ipv6',
  ]);
  t.after(() => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  });
  await run.waitFor(/keepalive: \d+ requests from each/, 30_000);
  assert.match(run.stderr(), /\(iptables mode, IPv6\)/);
  run.child.kill('SIGINT');
  const { code } = await run.exit;
  assert.equal(code, 130, run.stderr());
  assert.match(run.stderr(), /interrupted; removed what it had made/);
  assert.deepEqual(leftovers(prefix), []);
});
