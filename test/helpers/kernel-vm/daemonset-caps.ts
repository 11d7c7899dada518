// The capability sets the kernel matrix runs the helper with, read from the manifests so the check
// follows them: the DaemonSet's own (deploy/agent-daemonset.yaml), that plus what the
// kernels-before-6.4 component adds, the DaemonSet's without PERFMON (must fail naming it), and for
// kprobe the DaemonSet's own with kernel.perf_event_paranoid at 2.
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';

const DEPLOY = new URL('../../../../deploy/', import.meta.url);
export const COMPONENT = 'kernels-before-6.4';

interface Container {
  name: string;
  securityContext?: { capabilities?: { add?: string[]; drop?: string[] } };
}

/** The capabilities the DaemonSet adds to the agent container (after dropping ALL). */
export function daemonSetCapabilities(): string[] {
  const file = new URL('agent-daemonset.yaml', DEPLOY);
  const doc = load(readFileSync(file, 'utf8')) as { spec: { template: { spec: { containers: Container[] } } } };
  const caps = doc.spec.template.spec.containers.find((c) => c.name === 'agent')?.securityContext?.capabilities;
  if (!caps?.add?.length || !caps.drop?.includes('ALL'))
    throw new Error(
      `${file.pathname}: expected the agent to drop ALL and add capabilities, got ${JSON.stringify(caps)}`,
    );
  return caps.add;
}

/** What the component's JSON patches append to the agent's capabilities. */
export function componentCapabilities(): string[] {
  const file = new URL(`${COMPONENT}/kustomization.yaml`, DEPLOY);
  const doc = load(readFileSync(file, 'utf8')) as { patches?: { patch: string }[] };
  const ops = (doc.patches ?? []).flatMap((p) => load(p.patch) as { op: string; path: string; value: string }[]);
  const added = ops.filter((o) => o.op === 'add' && o.path.endsWith('/securityContext/capabilities/add/-'));
  if (!added.length) throw new Error(`${file.pathname}: expected patches adding capabilities to the agent`);
  return added.map((o) => o.value);
}

export interface CapSet {
  /** Results' file prefix in the VM and the client's token prefix. */
  name: string;
  mode: string;
  caps: string[];
  /** kernel.perf_event_paranoid for this run only. */
  paranoid?: number;
  /** What the table says the set is. */
  label: string;
  /** The capability the helper must name as missing, when the set must be refused. */
  missing?: string;
}

/**
 * The sets for the modes a kernel has. Debian's kernels want CAP_SYS_ADMIN for both modes (fentry:
 * nf_conntrack's module BTF is found by id; kprobe: perf_event_paranoid 3), and before 5.11
 * (memlock) CAP_SYS_RESOURCE first, for libbpf to raise RLIMIT_MEMLOCK: the DaemonSet's own set
 * must be refused naming the first one missing.
 */
export function capSets(modes: string[], memlock: boolean): CapSet[] {
  const base = daemonSetCapabilities();
  const full = [...base, ...componentCapabilities()];
  const p2 = memlock ? [...base, 'SYS_RESOURCE'] : base;
  return modes.flatMap((mode): CapSet[] => [
    {
      name: `caps-daemonset-${mode}`,
      mode,
      caps: base,
      label: 'DaemonSet caps',
      missing: memlock ? 'SYS_RESOURCE' : 'SYS_ADMIN',
    },
    { name: `caps-component-${mode}`, mode, caps: full, label: `+ ${COMPONENT}` },
    // from the DaemonSet's own set: CAP_SYS_ADMIN would stand in for CAP_PERFMON (perfmon_capable())
    {
      name: `caps-no-perfmon-${mode}`,
      mode,
      caps: base.filter((c) => c !== 'PERFMON'),
      label: 'DaemonSet caps - PERFMON',
      missing: 'PERFMON',
    },
    ...(mode === 'kprobe'
      ? [
          {
            name: `caps-paranoid2-${mode}`,
            mode,
            caps: p2,
            paranoid: 2,
            label: `DaemonSet caps${memlock ? ' + SYS_RESOURCE' : ''}, perf_event_paranoid=2`,
          },
        ]
      : []),
  ]);
}

/** A line of the VM's caps file: "NAME MODE +cap,+cap [PARANOID]" (setpriv's spelling). */
export function capsLine(s: CapSet): string {
  const caps = s.caps.map((c) => `+${c.toLowerCase()}`).join(',');
  return `${s.name} ${s.mode} ${caps}${s.paranoid === undefined ? '' : ` ${s.paranoid}`}`;
}
