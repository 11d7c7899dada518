// podman as this machine runs it (runc, cgroupfs, ulimits: see design.md "Containers"), the image build with the
// machine's CA bundle handed to npm for the build only, and the seccomp profile Kubernetes' RuntimeDefault means.
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const GLOBAL = ['--runtime', 'runc', '--cgroup-manager=cgroupfs', '--log-level=error'];
export const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

/** Runs podman; resolves with its output whatever the exit code. */
export async function podman(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec('podman', [...GLOBAL, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr || e.message };
  }
}

/** podman, failing with its stderr unless it exits 0. */
export async function podmanOk(args: string[]): Promise<string> {
  const r = await podman(args);
  if (r.code !== 0) throw new Error(`podman ${args.slice(0, 3).join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Removes, by id, every container labelled stickyscope-test=`run`. */
export async function removeLabelled(run: string): Promise<void> {
  const ids = (await podman(['ps', '--all', '--quiet', '--filter', `label=stickyscope-test=${run}`])).stdout;
  for (const id of ids.split('\n').filter(Boolean)) await podman(['rm', '--force', '--time', '1', id]);
}

/**
 * Mounted over /usr/local/etc (which the base has, empty) during the build: npm's global npmrc there names the
 * machine's CA bundle beside it. An existing directory as mount point leaves no stub file behind in any layer, and
 * the Dockerfile knows nothing of it: elsewhere the public registry's own certificates apply.
 */
function buildCaDir(dir: string, bundle = '/etc/ssl/certs/ca-certificates.crt'): string[] {
  copyFileSync(bundle, join(dir, 'host-ca.crt'));
  writeFileSync(join(dir, 'npmrc'), 'cafile=/usr/local/etc/host-ca.crt\n');
  return ['-v', `${dir}:/usr/local/etc:ro`];
}

/** podman build of deploy/Dockerfile from locally made bases only; returns the image id. */
export async function buildImage(root: string, tag: string, caDir: string): Promise<string> {
  const args = ['build', '--pull=never', '--network', 'host', ...ULIMITS, ...buildCaDir(caDir)];
  args.push('--ignorefile', join(root, 'deploy/Dockerfile.dockerignore'), '-f', join(root, 'deploy/Dockerfile'));
  args.push('-t', tag, root);
  const r = await podman(args);
  // The failing step's own output is on stdout, podman's summary on stderr: both, the tail of each.
  const tail = (text: string) => text.trim().split('\n').slice(-15).join('\n');
  if (r.code !== 0) throw new Error(`podman build exited ${r.code}:\n${tail(r.stdout)}\n${tail(r.stderr)}`);
  return (await podmanOk(['image', 'inspect', '--format', '{{.Id}}', tag])).trim();
}

interface SeccompRule {
  names: string[];
  action: string;
  includes?: { caps?: string[] };
  excludes?: { caps?: string[] };
  errnoRet?: number;
}

/**
 * This podman's default seccomp profile, as the runtimes Kubernetes' RuntimeDefault means (containerd's, moby's,
 * newer containers-common) have it: bpf() allowed with CAP_BPF, perf_event_open with CAP_PERFMON. Debian 12's
 * containers-common 0.50 allows them with CAP_SYS_ADMIN only. Unchanged when the profile already says so.
 */
export function runtimeDefaultSeccomp(path: string, source = '/usr/share/containers/seccomp.json'): string {
  const profile = JSON.parse(readFileSync(source, 'utf8')) as { syscalls: SeccompRule[] };
  if (!profile.syscalls.some((r) => r.includes?.caps?.includes('CAP_BPF'))) {
    const split = new Set(['bpf', 'perf_event_open']);
    for (const r of profile.syscalls) if (r.action === 'SCMP_ACT_ERRNO') r.names = r.names.filter((n) => !split.has(n));
    for (const [name, cap] of [
      ['bpf', 'CAP_BPF'],
      ['perf_event_open', 'CAP_PERFMON'],
    ] as const) {
      profile.syscalls.push({ names: [name], action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } });
      profile.syscalls.push({
        names: [name],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 1,
        excludes: { caps: ['CAP_SYS_ADMIN', cap] },
      });
    }
  }
  writeFileSync(path, JSON.stringify(profile));
  return path;
}
