// `kubectl stickyscope`: the cluster-facing commands under kubectl's plugin name (kubectl runs the executable
// `kubectl-stickyscope` on PATH), taking kubectl's global flags before the command as well as after it.
import { main as runMain, type Program } from './main.js';

export const KUBECTL_PLUGIN: Program = {
  name: 'kubectl stickyscope',
  commands: ['tui', 'record', 'report', 'export'],
  note: `kubectl's --context, -n/--namespace and --kubeconfig go with --k8s; -n, as in kubectl, keeps
only the Services of that namespace. The agent pods' namespace (default stickyscope) is
--agent-namespace: -n used to name it, so 'kubectl stickyscope -n stickyscope ...' from before
now asks for the Services of namespace stickyscope.
The node-side commands (agent, trace, lab, demo, doctor) are run as 'stickyscope'.`,
};

const VALUED = new Set(['--context', '--namespace', '-n', '--kubeconfig', '--agent-namespace']);

/**
 * `kubectl stickyscope --context prod tui --k8s` reads like kubectl, but the commands parse their own flags:
 * global flags before the command are moved after it.
 */
export function hoistGlobalFlags(argv: string[]): string[] {
  const globals: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    const flag = arg.split('=')[0]!;
    if (VALUED.has(flag) && arg.includes('=')) {
      globals.push(arg);
      i += 1;
    } else if (VALUED.has(arg) && i + 1 < argv.length) {
      globals.push(arg, argv[i + 1]!);
      i += 2;
    } else break;
  }
  if (globals.length === 0 || i >= argv.length) return argv;
  return [argv[i]!, ...globals, ...argv.slice(i + 1)];
}

export function main(argv: string[]): Promise<void> {
  return runMain(hoistGlobalFlags(argv), KUBECTL_PLUGIN);
}
