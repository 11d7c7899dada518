// The README's "In an incident" blocks, run as written against the lab served as a cluster (the fake API server with
// the lab's Services, its agents as ready Pods and the client certificate's Secret), with the real kubectl and
// `kubectl stickyscope` on PATH. Only what the README says to replace is replaced: the Service (default/web -> lab/web)
// and the time range; the ten-minute recording is ended with Ctrl-C, as an SRE who has seen enough would. Every figure
// checked comes from the backends' logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readBackendLogs, runClient, type Lab } from '../../src/lab/lab.js';
import { requireRoot } from '../helpers/env.js';
import { cliPath, kubectlPluginPath } from '../helpers/cli.js';
import { startLab } from '../helpers/lab-fixture.js';
import { startAgents } from '../helpers/agents.js';
import { serveLabApi } from '../helpers/lab-apiserver.js';
import { startTmux, type Tmux } from '../helpers/tmux.js';
import { countsFor, esc, expectBackendRows } from '../helpers/tui-screen.js';
import { waitFor, NotYet } from '../helpers/wait.js';

const README = new URL('../../../README.md', import.meta.url);
const SERVICE = 'lab/web';

/** The shell lines of the README's "In an incident" section, block by block. */
function incidentBlocks(): string[][] {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf('\n## In an incident\n');
  assert.ok(start >= 0, 'the README has an "In an incident" section');
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.split('\n').filter(Boolean));
}

/** One README line as a script in the work folder: what a user pastes into a shell there. */
function script(dir: string, name: string, line: string): string {
  const file = join(dir, `${name}.sh`);
  writeFileSync(file, `cd ${dir}\n${line}\n`);
  return file;
}

/** Runs a script to its end; stdout, stderr and status. */
function run(file: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** `lab/web`'s backends as the detail view and the report name them, "ip:port". */
function endpointsOf(lab: Lab): string[] {
  return webEndpoints(lab).map((e) => `${e.ip}:${e.port}`);
}

function webEndpoints(lab: Lab) {
  return lab.services.find((s) => s.serviceName === `${SERVICE}:http`)!.endpoints;
}

test("the README's incident blocks, pasted as they are, against the lab served as a cluster", {
  timeout: 180_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const blocks = incidentBlocks();
  assert.equal(blocks.length, 3, `three blocks: ${JSON.stringify(blocks)}`);
  const lab = await startLab(t);
  const agents = await startAgents(t, lab);
  const api = await serveLabApi(t, lab, agents);
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-incident-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // `stickyscope` and `kubectl-stickyscope` as npm's bin links make them; the Node running the tests first on PATH.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(cliPath, join(bin, 'stickyscope'));
  symlinkSync(kubectlPluginPath, join(bin, 'kubectl-stickyscope'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KUBECONFIG: api.kubeconfig,
    PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH}`,
  };
  delete env.CI;
  const lines = blocks.flat().map((l) => l.replaceAll('default/web', SERVICE));
  const [secretLine, liveLine, recordLine, replayLine, mdLine, htmlLine] = lines;
  assert.ok(secretLine && liveLine && recordLine && replayLine && mdLine && htmlLine, `six lines: ${lines.join('\n')}`);
  const c = (name: string) => lab.clients.find((x) => x.name === name)!;
  // The API's EndpointSlices name each backend's pod, and --k8s shows it.
  const pods = new Map(webEndpoints(lab).map((e) => [`${e.ip}:${e.port}`, `lab/${e.pod}`]));
  let term: Tmux | undefined;
  t.after(() => term?.kill());

  // 1. The client certificate out of its Secret with kubectl, then the live TUI on every node.
  const secret = await run(script(dir, 'secret', secretLine), env);
  assert.equal(secret.code, 0, `the Secret line failed: ${secret.err}`);
  for (const [file, want] of [
    ['ca.crt', lab.tls.client.ca],
    ['tls.crt', lab.tls.client.cert],
    ['tls.key', lab.tls.client.key],
  ] as const)
    assert.ok(readFileSync(join(dir, file)).equals(readFileSync(want)), `${file} is the Secret's, byte for byte`);

  term = startTmux(`bash ${script(dir, 'live', liveLine)}`, {
    cols: 160,
    rows: 50,
    env: { KUBECONFIG: api.kubeconfig, PATH: env.PATH! },
  });
  await term.waitForText(new RegExp(`^[ ›] ${esc(SERVICE)}:http `, 'm'), 20_000);
  term.sendKeys('Enter');
  await term.waitForText(new RegExp(`^ ${esc(SERVICE)}:http `, 'm'));
  const live = await runClient(lab, 'c3', { service: `${SERVICE}:http`, mode: 'http', count: 20, intervalMs: 50 });
  assert.ok(
    live.every((r) => r.answer),
    'every live request is answered',
  );
  await expectBackendRows(term, countsFor(await readBackendLogs(lab), [c('c3').ip]), endpointsOf(lab), { pods });
  term.sendKeys('q');
  assert.equal((await term.waitForExit()).code, 0);
  term.kill();

  // 2. Record on every node, Ctrl-C once the traffic is in the file, then replay the time range.
  const recorder = spawn('bash', [script(dir, 'record', recordLine)], {
    env,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let recordErr = '';
  recorder.stderr.setEncoding('utf8').on('data', (d: string) => (recordErr += d));
  const recorded = new Promise<number | null>((resolve) => recorder.on('close', resolve));
  t.after(() => {
    if (recorder.exitCode === null) process.kill(-recorder.pid!, 'SIGKILL');
  });
  await waitFor(
    'record to reach every agent',
    () => agents.agents.every((a) => recordErr.includes(`(${a.node}) up`)) || new NotYet(recordErr, 'every agent up'),
    20_000,
  );
  const from = new Date(Date.now() - 2000);
  const traffic = await runClient(lab, 'c2', { service: `${SERVICE}:http`, mode: 'http', count: 20, intervalMs: 50 });
  assert.ok(
    traffic.every((r) => r.answer),
    'every recorded request is answered',
  );
  const until = new Date(Date.now() + 2000);
  const truth = countsFor(await readBackendLogs(lab), [c('c2').ip]);
  const connections = [...truth.values()].reduce((a, b) => a + b, 0);
  assert.equal(connections, 20, 'the backends logged every recorded connection');
  // The file, read while it is written, holds every connection: the time to press Ctrl-C.
  await waitFor(
    `the trace to hold c2's ${connections} connections`,
    async () => {
      const out = (await run(script(dir, 'peek', `stickyscope export incident.trace --service ${SERVICE}`), env)).out;
      const n = out.split('\n').filter((l) => l.includes('"type":"dnat"') && l.includes(`"${c('c2').ip}:`)).length;
      return n === connections || new NotYet(n, connections);
    },
    20_000,
  );
  process.kill(-recorder.pid!, 'SIGINT');
  assert.equal(await recorded, 0, `record ends cleanly on Ctrl-C: ${recordErr}`);
  assert.match(recordErr, /recorded \d+ events \(0 lost\) to incident\.trace/);

  const range = replayLine
    .replace(/--since \S+/, `--since ${from.toISOString()}`)
    .replace(/--until \S+/, `--until ${until.toISOString()}`);
  term = startTmux(`bash ${script(dir, 'replay', range)}`, { cols: 160, rows: 50, env: { PATH: env.PATH! } });
  await term.waitForText(new RegExp(`^[ ›] ${esc(SERVICE)}:http `, 'm'), 20_000);
  term.sendKeys('Enter');
  await term.waitForText(new RegExp(`^ ${esc(SERVICE)}:http `, 'm'));
  await expectBackendRows(term, truth, endpointsOf(lab), { pods, timeoutMs: 20_000 });
  term.sendKeys('q');
  assert.equal((await term.waitForExit()).code, 0);

  // 3. The report to paste, and the page to attach.
  const md = await run(script(dir, 'md', mdLine), env);
  assert.equal(md.code, 0, md.err);
  assert.match(md.out, new RegExp(`^## \\S+ \\(${esc(SERVICE)}:http\\)$`, 'm'));
  for (const e of endpointsOf(lab))
    assert.match(md.out, new RegExp(`^\\| ${esc(e)}[^|]*\\| ${truth.get(e) ?? 0} \\|`, 'm'), `${e}'s selections`);
  const html = await run(script(dir, 'html', htmlLine), env);
  assert.equal(html.code, 0, html.err);
  const page = readFileSync(join(dir, 'web.html'), 'utf8');
  assert.match(page, /^<!doctype html>/i);
  assert.ok(page.includes(`${SERVICE}:http`), 'the page names the Service');
});
