// The IPv6 rules reader on nodes without IPv6 rules, with stand-ins for ip6tables-save and nft on PATH: no kube-proxy
// chains, no ip6 nat table, no nft binary at all are an empty catalog and no error; a refused read is an error
// naming the command and what it said.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRules } from '../../src/agent/rules-watch.js';

/** A directory on PATH holding only the given scripts (and sh, for them to run). */
function withTools(t: import('node:test').TestContext, tools: Record<string, string>): void {
  const dir = mkdtempSync(join(tmpdir(), 'ss-v6tools-'));
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  const path = process.env.PATH;
  process.env.PATH = `${dir}:/bin`;
  t.after(() => {
    process.env.PATH = path;
    rmSync(dir, { recursive: true, force: true });
  });
}

test('no kube-proxy chains and no nft binary: an empty IPv6 catalog', async (t) => {
  withTools(t, { 'ip6tables-save': 'echo "*nat"; echo ":PREROUTING ACCEPT [0:0]"; echo COMMIT' });
  assert.deepEqual(await nodeRules(undefined, 6)(), { mode: 'iptables', text: '' });
});

test('no ip6 nat table, no ip6 kube-proxy table: an empty IPv6 catalog', async (t) => {
  withTools(t, {
    'ip6tables-save': `echo "ip6tables-save v1.8.9 (legacy): can't initialize ip6tables table \\\`nat': Table does not exist (do you need to insmod?)" >&2; exit 1`,
    nft: `echo "Error: No such file or directory; did you mean table 'kube-proxy' in family ip?" >&2; exit 1`,
  });
  assert.deepEqual(await nodeRules(undefined, 6)(), { mode: 'iptables', text: '' });
});

test('a refused ip6tables read is an error that says so; the IPv4 reader is as strict as before', async (t) => {
  withTools(t, {
    'ip6tables-save': 'echo "ip6tables-save: ip6tables-legacy-save was refused (Permission denied)" >&2; exit 1',
    'iptables-save': 'echo "iptables-save: Permission denied" >&2; exit 1',
  });
  await assert.rejects(nodeRules(undefined, 6)(), /'ip6tables-save -t nat': .*refused \(Permission denied\)/);
  await assert.rejects(nodeRules(undefined, 4)(), /'iptables-save -t nat': iptables-save: Permission denied/);
});

test('an ip6 kube-proxy table is read as nftables mode', async (t) => {
  withTools(t, { nft: 'echo \'{"nftables": []}\'' });
  assert.deepEqual(await nodeRules(undefined, 6)(), { mode: 'nftables', text: '{"nftables": []}\n' });
});
