// kube-proxy's nfacct counters: it creates them when it starts and writes the rules that count into them only where
// that worked (the kernel's nfnetlink_acct and xt_nfacct, one set of counters per network namespace). The lab does the
// same with the nfacct tool (scripts/setup.sh installs it); without it the rules are written without counters.
import { runRaw } from './exec.js';

/** Whether node namespace `ns` has counter `name`, created here if it had not. */
export async function ensureCounter(ns: string, name: string): Promise<boolean> {
  const nfacct = (...args: string[]) => runRaw('ip', ['netns', 'exec', ns, 'nfacct', ...args]).catch(() => null);
  if ((await nfacct('get', name))?.code === 0) return true;
  return (await nfacct('add', name))?.code === 0;
}
