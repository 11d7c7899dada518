// deploy/Dockerfile built for real with podman (base images made locally by scripts/image-base.sh), the final image's
// contents checked, then the agent run from it as deploy/agent-daemonset.yaml runs it on a lab node: recorded traffic
// against the backends' logs, and each of the manifest's capabilities dropped in turn. `npm run test:image`.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { labDown, labUp, readBackendLogs, runClient, type ClientResult, type Lab } from '../../src/lab/lab.js';
import { requireRoot, runPrefix } from '../helpers/env.js';
import { cliPath, runCli } from '../helpers/cli.js';
import { buildImage, podman, podmanOk, removeLabelled, runtimeDefaultSeccomp, ULIMITS } from '../helpers/podman.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** One tag, replaced by each run: podman's storage (outside the clone) keeps the layers as the warm cache. */
const TAG = 'localhost/stickyscope:image-test';
const PORT = 7390;
/** On every container this run starts: t.after removes whatever a failure or timeout left running. */
const RUN = runPrefix();
const LABEL = ['--label', `stickyscope-test=${RUN}`];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface AgentSpec {
  caps: string[];
  readOnlyRoot: boolean;
  runAsUser: number;
  privileged: boolean;
  seccomp: string;
  /** The container's args, $(VAR) references unexpanded. */
  args: string[];
  mounts: { path: string; readOnly: boolean; hostPath?: string; emptyDir: boolean; secret?: string }[];
}

interface Manifest {
  spec: { template: { spec: PodSpec } };
}
interface PodSpec {
  securityContext?: { seccompProfile?: { type: string } };
  containers: {
    name: string;
    args: string[];
    securityContext: {
      capabilities: { drop: string[]; add: string[] };
      readOnlyRootFilesystem?: boolean;
      runAsUser: number;
      privileged?: boolean;
      seccompProfile?: { type: string };
    };
    volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  }[];
  volumes: { name: string; hostPath?: { path: string }; emptyDir?: object; secret?: { secretName: string } }[];
}

/** The agent container's security settings and mounts, read from the manifest itself. */
function daemonSetAgent(): AgentSpec {
  const pod = (load(readFileSync(join(ROOT, 'deploy/agent-daemonset.yaml'), 'utf8')) as Manifest).spec.template.spec;
  const c = pod.containers.find((x) => x.name === 'agent')!;
  const sc = c.securityContext;
  assert.deepEqual(sc.capabilities.drop, ['ALL']);
  return {
    caps: sc.capabilities.add,
    args: c.args,
    readOnlyRoot: sc.readOnlyRootFilesystem === true,
    runAsUser: sc.runAsUser,
    privileged: sc.privileged === true,
    seccomp: (pod.securityContext?.seccompProfile ?? sc.seccompProfile)?.type ?? 'none',
    mounts: c.volumeMounts.map((m) => {
      const v = pod.volumes.find((x) => x.name === m.name)!;
      const secret = v.secret?.secretName;
      return {
        path: m.mountPath,
        readOnly: m.readOnly === true,
        hostPath: v.hostPath?.path,
        emptyDir: !!v.emptyDir,
        secret,
      };
    }),
  };
}

/**
 * The agent's TLS Secret as `stickyscope certs` fills it (ca.crt, NODE.crt, NODE.key), from the lab's throwaway
 * certificates, mode 0400 as the manifest's defaultMode.
 */
function secretDir(lab: Lab, dir: string): string {
  const out = join(dir, 'secret');
  mkdirSync(out);
  const node = lab.nodes[0]!;
  for (const f of ['ca.crt', `${node}.crt`, `${node}.key`]) {
    copyFileSync(join(lab.tls.dir, f), join(out, f));
    chmodSync(join(out, f), 0o400);
  }
  return out;
}

/** `podman run` flags for the agent as the kubelet would start it, with `caps` instead of the manifest's list. */
function runFlags(spec: AgentSpec, lab: Lab, seccompFile: string, caps: string[], secrets: string): string[] {
  assert.equal(spec.privileged, false);
  assert.equal(spec.seccomp, 'RuntimeDefault');
  const flags = [...ULIMITS, ...LABEL, '--user', String(spec.runAsUser), '--network', `ns:${lab.nodeNetnsPath(0)}`];
  flags.push('--security-opt', `seccomp=${seccompFile}`, '--cap-drop', 'all');
  for (const c of caps) flags.push('--cap-add', c);
  if (spec.readOnlyRoot) flags.push('--read-only');
  for (const m of spec.mounts) {
    if (m.hostPath) flags.push('-v', `${m.hostPath}:${m.path}${m.readOnly ? ':ro' : ''}`);
    else if (m.emptyDir) flags.push('--tmpfs', m.path);
    else if (m.secret) flags.push('-v', `${secrets}:${m.path}:ro`);
    else assert.fail(`a volume the test does not know how to mount at ${m.path}`);
  }
  return flags;
}

/** The manifest's args with what the kubelet fills in: the pod IP (the node's, hostNetwork) and the node name. */
const agentArgs = (spec: AgentSpec, lab: Lab) =>
  spec.args.map((a) => a.replace('$(POD_IP)', lab.nodeIP(0)).replace('$(NODE_NAME)', lab.nodes[0]!));

const logs = async (name: string) => {
  const r = await podman(['logs', name]);
  return r.stdout + r.stderr;
};
const running = async (name: string) =>
  (await podman(['inspect', '--format', '{{.State.Running}}', name])).stdout.trim() === 'true';

let imageId: string | undefined;

async function image(t: TestContext): Promise<string> {
  if (imageId) return imageId;
  const t0 = Date.now();
  const base = execFileSync('bash', [join(ROOT, 'scripts/image-base.sh')], { encoding: 'utf8' }).trim();
  const t1 = Date.now();
  const previous = (await podman(['image', 'inspect', '--format', '{{.Id}}', TAG])).stdout.trim();
  const caDir = mkdtempSync(join(tmpdir(), `${runPrefix()}-ca-`));
  try {
    imageId = await buildImage(ROOT, TAG, caDir);
  } finally {
    rmSync(caDir, { recursive: true, force: true });
  }
  // The image the last run left: only it, its layers stay shared with this build's cache.
  if (previous && !imageId.startsWith(previous) && !previous.startsWith(imageId)) await podman(['rmi', previous]);
  t.diagnostic(
    `base ${base}: ${((t1 - t0) / 1000).toFixed(1)} s; podman build: ${((Date.now() - t1) / 1000).toFixed(1)} s`,
  );
  return imageId;
}

test('the image builds from pinned local bases; no build tools, dev dependencies or CA bundle in it', {
  timeout: 1_200_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  t.after(() => removeLabelled(RUN));
  const id = await image(t);
  const inImage = (entrypoint: string, args: string[], user?: string) =>
    podmanOk(
      ['run', '--rm', ...ULIMITS, ...LABEL, '--network', 'none', ...(user ? ['--user', user] : [])].concat([
        '--entrypoint',
        entrypoint,
        id,
        ...args,
      ]),
    );

  const pinned = /^ARG NODE_VERSION=(\d+\.\d+\.\d+)$/m.exec(readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8'));
  assert.ok(pinned, 'deploy/Dockerfile pins NODE_VERSION to X.Y.Z');
  assert.equal((await inImage('node', ['--version'])).trim(), `v${pinned[1]}`);

  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const packages = (await inImage('dpkg-query', ['-W', '-f', '${Package}\\n'])).split('\n').filter(Boolean);
  assert.ok(packages.includes('libbpf1') && packages.includes('iptables'), `runtime packages: ${packages.length}`);
  // gcc-12-base (libgcc's copyright files) is in every Debian; the compilers and tools themselves must not be.
  const buildTools = /^((gcc|cpp|clang|llvm|g\+\+)(-\d+)?|make|binutils|libc6-dev|libbpf-dev|bpftool|pkg-config)$/;
  assert.deepEqual(
    packages.filter((p) => buildTools.test(p)),
    [],
    'build tools in the final image',
  );

  // Ground truth for "dev": npm's own lockfile, not the Dockerfile's prune step.
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const devOnly = Object.entries(lock.packages)
    .filter(([p, v]) => p.startsWith('node_modules/') && v.dev)
    .map(([p]) => p);
  assert.ok(devOnly.length > 20, `the lockfile names ${devOnly.length} dev-only packages`);
  const present = new Set(
    (
      await inImage('sh', [
        '-c',
        'cd /opt/stickyscope && find node_modules -name package.json -not -path "*/node_modules/*/node_modules/*/*/*"',
      ])
    )
      .split('\n')
      .filter(Boolean)
      .map((p) => p.replace(/\/package\.json$/, '')),
  );
  assert.ok(present.has('node_modules/@grpc/grpc-js'));
  assert.deepEqual(
    devOnly.filter((p) => present.has(p)),
    [],
    'dev-only packages in the image',
  );

  // The CLI runs as the unprivileged user; the build's CA bundle and npmrc left nothing behind.
  assert.equal((await inImage('id', ['-un'])).trim(), 'stickyscope');
  const help = await podman(['run', '--rm', ...ULIMITS, ...LABEL, '--network', 'none', id, 'record', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout + help.stderr, /Usage: stickyscope record/);
  const bundle = readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8').trim().split('\n');
  // The machine's own CA is the bundle's last (update-ca-certificates appends local ones): a line of its body.
  const marker = bundle[bundle.length - 3]!;
  const found = await podman([
    'run',
    '--rm',
    ...ULIMITS,
    '--network',
    'none',
    '--user',
    '0',
    '--entrypoint',
    'sh',
    id,
    '-c',
    `ls -A /usr/local/etc; find / -xdev \\( -name .npmrc -o -name npmrc \\) -not -path '*/node_modules/*'; find / -xdev -type f -exec grep -lF -- "$1" {} +; true`,
    'sh',
    marker,
  ]);
  assert.equal(found.stdout.trim(), '', `left in the image by the build: ${found.stdout}`);

  const size = Number((await podmanOk(['image', 'inspect', '--format', '{{.Size}}', id])).trim());
  t.diagnostic(`image ${TAG}: ${(size / 1e6).toFixed(0)} MB`);
  console.log(`image size: ${(size / 1e6).toFixed(0)} MB (${size} bytes)`);
});

/** The host's CLI in the node's network namespace, as a user on the node would run it against the agent. */
function startRecord(lab: Lab, out: string) {
  const args = ['record', '--agent', `${lab.nodeIP(0)}:${PORT}`, ...lab.tls.clientArgs(), '-w', out];
  const child = spawn('ip', ['netns', 'exec', lab.nodes[0]!, process.execPath, cliPath, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, stderr: () => err, exit };
}

test('the agent container, run as the DaemonSet runs it, records lab traffic the backends logged', {
  timeout: 1_200_000,
}, async (t) => {
  if (!requireRoot(t)) return;
  const id = await image(t);
  const spec = daemonSetAgent();
  const prefix = runPrefix();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-image-`));
  const names: string[] = [];
  let rec: ReturnType<typeof startRecord> | undefined;
  const stopTraffic = new AbortController();
  t.after(async () => {
    stopTraffic.abort();
    if (rec && rec.child.exitCode === null) rec.child.kill('SIGKILL');
    await rec?.exit;
    for (const n of names) await podman(['rm', '--force', '--time', '2', n]);
    await removeLabelled(RUN);
    await labDown(prefix);
    rmSync(dir, { recursive: true, force: true });
  });
  const lab = await labUp({ prefix });
  const seccomp = runtimeDefaultSeccomp(join(dir, 'seccomp.json'));
  const secrets = secretDir(lab, dir);
  const ready = spec.args[spec.args.indexOf('--ready-file') + 1]!;
  assert.match(agentArgs(spec, lab).join(' '), new RegExp(`--listen ${lab.nodeIP(0).replace(/\./g, '\\.')}:${PORT}`));
  const start = async (name: string, caps: string[]) => {
    names.push(name);
    await podmanOk([
      'run',
      '--detach',
      '--name',
      name,
      ...runFlags(spec, lab, seccomp, caps, secrets),
      id,
      ...agentArgs(spec, lab),
    ]);
  };

  const agent = `${prefix}-agent`;
  await start(agent, spec.caps);
  await waitFor(
    'the agent ready file',
    async () => {
      if (!(await running(agent))) throw new Error(`the agent exited: ${await logs(agent)}`);
      return (await podman(['exec', agent, 'test', '-f', ready])).code === 0;
    },
    30_000,
  );
  assert.match(await logs(agent), new RegExp(`serving mutual TLS on ${lab.nodeIP(0).replace(/\./g, '\\.')}:${PORT}`));

  const trace = join(dir, 'lab.trace');
  rec = startRecord(lab, trace);
  await waitFor('record to see the agent up', async () => /agent \S+ \(.*\) up/.test(rec!.stderr()), 15_000);
  const pods = lab.clients.filter((c) => !c.external);
  const runs: Promise<ClientResult[]>[] = pods.flatMap((c) => [
    runClient(lab, c.name, { service: 'lab/web:http', mode: 'http', count: 10 }, stopTraffic.signal),
    runClient(lab, c.name, { service: 'lab/sticky:http', mode: 'http', count: 6, intervalMs: 20 }, stopTraffic.signal),
  ]);
  const results = (await Promise.all(runs)).flat();
  assert.deepEqual(
    results.filter((r) => r.answer === null),
    [],
    'every request is answered',
  );
  // The agent flushes once a second (its counters tick): two ticks and every event is out.
  await sleep(2500);
  rec.child.kill('SIGINT');
  assert.equal(await rec.exit, 0, `record exits 0 on SIGINT: ${rec.stderr()}`);
  assert.match(rec.stderr(), /recorded \d+ events \(0 lost\)/);

  const exported = await runCli(['export', trace, '--format', 'jsonl']);
  assert.equal(exported.code, 0, exported.stderr);
  const dnat = exported.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; proto: string; client: string; backend: string })
    .filter((e) => e.type === 'dnat');
  const backendLines = await readBackendLogs(lab);
  assert.equal(backendLines.length, results.length, 'one backend line per request (one connection each)');
  const key = (proto: string, client: string, backend: string) => `${proto} ${client} ${backend}`;
  assert.deepEqual(
    dnat.map((e) => key(e.proto, e.client, e.backend)).sort(),
    backendLines.map((l) => key(l.proto, l.peer, l.local)).sort(),
    'the recorded dnat events are exactly the connections the backends logged',
  );
  await podmanOk(['stop', '--time', '10', agent]);
  assert.doesNotMatch(await logs(agent), /warning/, 'the agent read the rules without complaint');

  // Each capability dropped in turn: the agent must say which one it lacks.
  for (const cap of spec.caps) {
    const name = `${prefix}-no-${cap.toLowerCase()}`;
    await start(
      name,
      spec.caps.filter((c) => c !== cap),
    );
    const said = new RegExp(`CAP_${cap}\\b`);
    await waitFor(`the agent without ${cap} to name it`, async () => said.test(await logs(name)), 30_000);
    const line = (await logs(name)).split('\n').find((l) => said.test(l))!;
    t.diagnostic(`without ${cap}: ${line}`);
    assert.match(line, /^stickyscope agent: /, 'said as one line by the agent');
    const missing = /; missing ([A-Z_, ]+)/.exec(line);
    if (missing) assert.equal(missing[1], `CAP_${cap}`, 'the only capability it says is missing');
    if (await running(name)) {
      // Only the rules reader needs it: the agent goes on, warning, without Service names. The kernel's word
      // that the read needs it, from the same container's settings:
      assert.match(line, /warning: failed to read the (nat )?rules/);
      const flags = runFlags(
        spec,
        lab,
        seccomp,
        spec.caps.filter((c) => c !== cap),
        secrets,
      );
      const legacy = await podman(['run', '--rm', ...flags, '--entrypoint', 'iptables-legacy-save', id, '-t', 'nat']);
      assert.notEqual(legacy.code, 0);
      assert.match(legacy.stderr, /Permission denied/);
    } else {
      const code = (await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', name])).trim();
      assert.notEqual(code, '0', `the agent without ${cap} exits non-zero`);
    }
    await podman(['rm', '--force', '--time', '2', name]);
  }
});
