// The capability sets the kernel matrix runs the helper with: exactly what deploy/agent-daemonset.yaml
// grants the agent (read from the manifest, so the check follows it), and that set without one
// capability, which must fail in one line naming what is missing.
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';

const MANIFEST = new URL('../../../../deploy/agent-daemonset.yaml', import.meta.url);

interface Container {
  name: string;
  securityContext?: { capabilities?: { add?: string[]; drop?: string[] } };
}

/** The capabilities the DaemonSet adds to the agent container (after dropping ALL). */
export function daemonSetCapabilities(): string[] {
  const doc = load(readFileSync(MANIFEST, 'utf8')) as { spec: { template: { spec: { containers: Container[] } } } };
  const agent = doc.spec.template.spec.containers.find((c) => c.name === 'agent');
  const caps = agent?.securityContext?.capabilities;
  if (!caps?.add?.length || !caps.drop?.includes('ALL'))
    throw new Error(
      `${MANIFEST.pathname}: expected the agent container to drop ALL and add capabilities, got ${JSON.stringify(caps)}`,
    );
  return caps.add;
}

export interface CapSet {
  /** Results' file prefix in the VM and the client's token prefix. */
  name: string;
  mode: string;
  caps: string[];
  /** The capability left out, when the set must be refused. */
  without?: string;
}

export function capSets(modes: string[], dropped = 'PERFMON'): CapSet[] {
  const granted = daemonSetCapabilities();
  return modes.flatMap((mode) => [
    { name: `caps-daemonset-${mode}`, mode, caps: granted },
    {
      name: `caps-no-${dropped.toLowerCase()}-${mode}`,
      mode,
      caps: granted.filter((c) => c !== dropped),
      without: dropped,
    },
  ]);
}

/** A line of the VM's caps file: "NAME MODE +cap,+cap" (setpriv's spelling). */
export function capsLine(s: CapSet): string {
  return `${s.name} ${s.mode} ${s.caps.map((c) => `+${c.toLowerCase()}`).join(',')}`;
}
