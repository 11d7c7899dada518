// deploy/Dockerfile checked statically (no Docker on these machines): every COPY source exists in the build context or
// is made by an earlier step of its stage, the runtime stage installs the libraries the probe binary links against, and
// the paths the code resolves at run time are where the image puts them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { skip } from '../helpers/env.js';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

interface Instr {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instrs: Instr[];
}

function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!;
    const upper = op!.toUpperCase();
    if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args!.trim())!;
      stages.push({ from: m[1]!, name: m[2], instrs: [] });
    } else if (stages.length) stages.at(-1)!.instrs.push({ op: upper, args: args!.trim() });
  }
  return stages;
}

const stages = parseDockerfile(read('deploy/Dockerfile'));
const copies = (s: Stage) =>
  s.instrs
    .filter((i) => i.op === 'COPY')
    .map((i) => {
      const parts = i.args.split(/\s+/);
      const from = parts.find((p) => p.startsWith('--from='))?.slice('--from='.length);
      const paths = parts.filter((p) => !p.startsWith('--'));
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
    });
const aptPackages = (s: Stage) =>
  s.instrs
    .filter((i) => i.op === 'RUN' && i.args.includes('apt-get install'))
    .flatMap((i) =>
      i.args
        .slice(i.args.indexOf('apt-get install'))
        .split('&&')[0]!
        .split(/\s+/)
        .slice(2)
        .filter((w) => w && !w.startsWith('-')),
    );

/** The `^A.B.C || >=A.B.C` ranges package.json's engines uses. */
function satisfies(v: number[], range: string): boolean {
  const cmp = (a: number[], b: number[]) => a.map((x, i) => x - b[i]!).find((d) => d !== 0) ?? 0;
  return range.split('||').some((part) => {
    const m = /^\s*(\^|>=)(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
    assert.ok(m, `engines range part '${part}' is ^X.Y.Z or >=X.Y.Z`);
    const min = m.slice(2, 5).map(Number);
    return cmp(v, min) >= 0 && (m[1] === '>=' || v[0] === min[0]);
  });
}

test('two stages from the official Debian node image, Node pinned to a release package.json allows', () => {
  assert.equal(stages.length, 2);
  const version = /^ARG NODE_VERSION=(\d+)\.(\d+)\.(\d+)$/m.exec(read('deploy/Dockerfile'));
  assert.ok(version, 'NODE_VERSION pinned to X.Y.Z');
  assert.equal(version[1], '24');
  const engines = JSON.parse(read('package.json')).engines.node as string;
  assert.ok(satisfies(version.slice(1, 4).map(Number), engines), `engines ${engines} allows Node ${version[0]}`);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the Dockerfile's own ARG syntax, read literally
  assert.equal(stages[0]!.from, 'node:${NODE_VERSION}-bookworm-slim');
  assert.equal(stages[0]!.name, 'build');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the Dockerfile's own ARG syntax, read literally
  assert.equal(stages[1]!.from, 'node:${NODE_VERSION}-bookworm-slim');
  for (const p of ['clang', 'bpftool', 'libbpf-dev', 'libelf-dev', 'libnetfilter-conntrack-dev'])
    assert.ok(aptPackages(stages[0]!).includes(p), `build stage installs ${p}`);
});

test('every COPY from the context names a file or folder of the repository', () => {
  const ignored = read('deploy/Dockerfile.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const stage of stages) {
    for (const c of copies(stage).filter((c) => !c.from)) {
      for (const src of c.sources) {
        assert.ok(existsSync(join(ROOT, src)), `COPY ${src}: not in the repository`);
        assert.ok(
          !ignored.some((i) => src === i || src.startsWith(i + '/')),
          `COPY ${src}: excluded by Dockerfile.dockerignore`,
        );
      }
    }
  }
});

test('every COPY --from=build names something the build stage copied in or made', () => {
  const build = stages[0]!;
  const workdir = build.instrs.filter((i) => i.op === 'WORKDIR').at(-1)!.args;
  const copiedIn = copies(build).flatMap((c) =>
    c.sources.map((s) => (c.dest.endsWith('/') || c.dest === './' ? s : c.dest.replace(/^\.\//, ''))),
  );
  const runs = build.instrs
    .filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join('\n');
  // What the build makes, from the project's own build description, not from this test.
  const outDir = JSON.parse(read('tsconfig.json')).compilerOptions.outDir as string;
  // The C side's outputs: the Makefile's file targets under build/ (the image's own, native architecture), from
  // make's database (-p), nothing run (-n -q).
  const database = spawnSync('make', ['-pnq', '--no-print-directory'], { cwd: ROOT, encoding: 'utf8' }).stdout;
  const bpfOutputs = [...database.matchAll(/^(build\/[^\s:%]+):/gm)].map((m) => m[1]!);
  assert.ok(bpfOutputs.includes('build/stickyscope-probe'), `make's targets: ${bpfOutputs.join(' ')}`);
  assert.match(JSON.parse(read('package.json')).scripts.build, /\bmake\b/);
  // npm run build runs make: the build stage needs the Makefile copied in.
  assert.ok(copiedIn.includes('Makefile'), `the build stage copies in ${copiedIn.join(' ')}, not the Makefile`);
  const made = (p: string) =>
    copiedIn.some((c) => p === c || p.startsWith(c + '/')) ||
    (p === 'node_modules' && /npm ci/.test(runs)) ||
    ((p === outDir || p.startsWith(outDir + '/')) && /npm run build/.test(runs)) ||
    (bpfOutputs.includes(p) && /npm run build/.test(runs));
  const fromBuild = copies(stages[1]!).filter((c) => c.from === 'build');
  assert.ok(fromBuild.length >= 4);
  for (const c of fromBuild) {
    for (const src of c.sources) {
      assert.ok(src.startsWith(workdir + '/'), `${src} is under the build WORKDIR ${workdir}`);
      assert.ok(
        made(src.slice(workdir.length + 1)),
        `COPY --from=build ${src}: the build stage neither copies nor makes it`,
      );
    }
  }
});

test('the image puts the CLI and the probe where the code looks for them', () => {
  const runtime = stages[1]!;
  const workdir = runtime.instrs.find((i) => i.op === 'WORKDIR')!.args;
  const entry = JSON.parse(runtime.instrs.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
  assert.deepEqual(entry, ['node', `${workdir}/bin/stickyscope.js`]);
  const dests = copies(runtime).map((c) => c.dest.replace(/^\.\//, ''));
  assert.ok(dests.includes('bin'));
  // bin/stickyscope.js imports ../dist/src/cli/main.js; probe.ts runs ../../../build/stickyscope-probe from dist/src/probe/.
  assert.match(read('bin/stickyscope.js'), /\.\.\/dist\/src\/cli\/main\.js/);
  assert.ok(dests.includes('dist/src'));
  assert.match(read('src/probe/probe.ts'), /'\.\.\/\.\.\/\.\.\/build\/stickyscope-probe'/);
  assert.ok(dests.includes('build/stickyscope-probe'));
  // The iptables-save wrapper shadows Debian's on the image's PATH.
  const wrapper = copies(runtime).find((c) => c.sources.includes('deploy/iptables-save'))!;
  assert.equal(wrapper.dest, '/usr/local/sbin/iptables-save');
  assert.ok(statSync(join(ROOT, 'deploy/iptables-save')).mode & 0o111, 'wrapper is executable');
  // The same wrapper reads the IPv6 rules when called as ip6tables-save.
  assert.ok(
    copies(runtime).some(
      (c) => c.sources.includes('deploy/iptables-save') && c.dest === '/usr/local/sbin/ip6tables-save',
    ),
    'installed as ip6tables-save too',
  );
});

test('the build stage has what generating the wire codec reads, and the code run reads no .proto', () => {
  const script = JSON.parse(read('package.json')).scripts.build as string;
  const steps = script.split('&&').map((step) => step.trim());
  const tscAt = steps.findIndex((step) => /^tsc\b/.test(step));
  const generator = steps
    .slice(0, Math.max(tscAt, 0))
    .map((step) => /^node (scripts\/gen-[\w-]+\.mjs)$/.exec(step)?.[1])
    .find((g) => g !== undefined);
  assert.ok(generator, `npm run build generates the codec before tsc: ${script}`);
  // The generator's inputs, named in its own source: each must be in the build stage.
  const copiedIn = copies(stages[0]!).flatMap((c) => c.sources);
  const inputs = [generator, ...[...read(generator).matchAll(/path\('([^']+\.proto)'\)/g)].map((m) => m[1]!)];
  assert.ok(inputs.length >= 2, `generator inputs: ${inputs.join(', ')}`);
  for (const input of inputs)
    assert.ok(
      copiedIn.some((c) => input === c || input.startsWith(c + '/')),
      `the build stage does not copy ${input}`,
    );
  // The runtime stage carries dist/src but no proto/: no source may open a .proto at run time.
  if (copies(stages[1]!).some((c) => c.sources.some((src) => /(^|\/)proto(\/|$)/.test(src)))) return;
  const sources = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' });
  for (const f of sources.filter((f) => /\.(ts|tsx|js)$/.test(f)))
    assert.doesNotMatch(read(join('src', f)), /['"`][^'"`\n]*\.proto['"`]/, `src/${f} names a .proto file`);
});

test('the runtime stage installs every library the probe binary links against', (t) => {
  const probe = join(ROOT, 'build/stickyscope-probe');
  if (!existsSync(probe)) {
    skip(t, 'build/stickyscope-probe not built (npm run build)');
    return;
  }
  const installed = new Set(['libc6', ...aptPackages(stages[1]!)]);
  for (const p of ['iptables', 'conntrack']) assert.ok(installed.has(p), `runtime installs ${p}`);
  // Ground truth from the binary and dpkg, not from the Dockerfile's comments.
  const libs = execFileSync('ldd', [probe], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /=>\s+(\S+)/.exec(l)?.[1])
    .filter((l): l is string => Boolean(l));
  assert.ok(libs.length >= 3, `ldd listed ${libs.join(', ')}`);
  for (const lib of libs) {
    const owner = debianPackageOf(execFileSync('readlink', ['-f', lib], { encoding: 'utf8' }).trim());
    assert.ok(installed.has(owner), `${lib} comes from ${owner}, which the runtime stage does not install`);
  }
});

/** The package dpkg says owns `path`; with merged /usr, dpkg may know it under /lib or /usr/lib. */
function debianPackageOf(path: string): string {
  const candidates = [path, path.replace(/^\/usr\/lib\//, '/lib/'), path.replace(/^\/lib\//, '/usr/lib/')];
  for (const c of new Set(candidates)) {
    try {
      return execFileSync('dpkg', ['-S', c], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0]!;
    } catch {
      // not under this spelling of the path; try the next
    }
  }
  throw new Error(`dpkg knows no package owning ${path}`);
}
