// The agent's Info names where its probe is attached, checked against the kernel: the
// netfilter links its helper process holds (/proc/PID/fdinfo: pf, hooknum, prio, link
// id) and `bpftool link show`, never against what the helper says about itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { infoMethod } from '../../src/protocol/service-def.js';
import type { AgentInfo } from '../../src/protocol/wire.js';
import { cliPath } from '../helpers/cli.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

const HOOK_NAMES = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
  );
}

/** The netfilter BPF links process `pid` holds, from the kernel's fdinfo, in Info's wording. */
function kernelLinks(pid: number): { text: string; id: number }[] {
  const out: { text: string; id: number }[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:bpf_link') continue;
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s+(\\S+)`, 'm').exec(info)?.[1];
    if (field('link_type') !== 'netfilter') continue;
    const nf = /pf:\s+(\d+)\s+hooknum:\s+(\d+)\s+prio:\s+(-?\d+)/.exec(info);
    assert.ok(nf, `fdinfo of a netfilter link has pf, hooknum and prio: ${info}`);
    const family = nf[1] === '2' ? 'ipv4' : nf[1] === '10' ? 'ipv6' : `pf${nf[1]}`;
    const id = Number(field('link_id'));
    out.push({ text: `netfilter ${family} ${HOOK_NAMES[Number(nf[2])]} prio ${nf[3]} link ${id}`, id });
  }
  return out;
}

function agentInfo(address: string): Promise<AgentInfo> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<AgentInfo>((resolve, reject) =>
    client.makeUnaryRequest(
      infoMethod.path,
      infoMethod.requestSerialize,
      infoMethod.responseDeserialize,
      {},
      { deadline: Date.now() + 5000 },
      (err, value) => (err || !value ? reject(err ?? new Error('empty Info answer')) : resolve(value)),
    ),
  ).finally(() => client.close());
}

test('Info.attach_points lists the netfilter links the kernel shows for the probe', { timeout: 60_000 }, async (t) => {
  if (!requireRoot(t)) return;
  const ns = `${runPrefix()}-ap`;
  const dir = mkdtempSync(join(tmpdir(), 'ss-attach-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('ip', ['netns', 'add', ns]);
  t.after(() => execFileSync('ip', ['netns', 'del', ns]));
  const ready = join(dir, 'ready');
  const agent = spawn(
    process.execPath,
    [cliPath, 'agent', '--netns', `/run/netns/${ns}`, '--listen', '127.0.0.1:0', '--ready-file', ready],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  agent.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise((resolve) => agent.on('exit', resolve));
  t.after(async () => {
    if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGTERM');
    await exited;
  });
  await waitFor('the ready file', () => existsSync(ready) || agent.exitCode !== null, 20_000);
  assert.ok(existsSync(ready), `agent exited early: ${stderr}`);

  const helpers = childrenOf(agent.pid!).filter((p) =>
    readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('stickyscope-probe'),
  );
  assert.equal(helpers.length, 1, 'the agent runs one probe helper');
  const kernel = kernelLinks(helpers[0]!);
  assert.equal(
    kernel.length,
    8,
    `two programs at four hooks for IPv4 and IPv6: ${kernel.map((k) => k.text).join('; ')}`,
  );
  for (const { id } of kernel)
    assert.match(
      execFileSync('bpftool', ['link', 'show', 'id', String(id)], { encoding: 'utf8' }),
      /type (10|netfilter)\b/,
    );

  const info = await agentInfo(readFileSync(ready, 'utf8').trim());
  assert.deepEqual([...info.attachPoints].sort(), kernel.map((k) => k.text).sort());
  assert.ok(
    kernel.some((k) => k.text.startsWith('netfilter ipv4 prerouting prio -99 ')),
    'the dnat program sits right after DNAT at prerouting',
  );
  t.diagnostic(info.attachPoints.join('; '));
});
