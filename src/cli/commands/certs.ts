// `stickyscope certs`: a private CA, one certificate per agent node and client
// certificates, written to a directory, and how to hand them to the DaemonSet.
import { parse, type Command } from '../command.js';
import { UsageError } from '../../core/errors.js';

export const command: Command = {
  usage: `Usage: stickyscope certs --out DIR --node NODE [--node ...] [--client NAME] [--days N]

Makes what mutual TLS between the agents and their clients needs, in DIR:
  ca.crt, ca.key       a private CA for stickyscope only (keep ca.key off the cluster)
  NODE.crt, NODE.key   per --node: the agent certificate of that Kubernetes node,
                       naming NODE.agent.stickyscope.local (server use only)
  NAME.crt, NAME.key   per --client: a client certificate (client use only) for
                       record, report and tui (--tls-ca, --tls-cert, --tls-key), and
                       for serve's reports
  aggregator.crt, .key the certificate of serve's reports listener (--report-listen),
                       naming stickyscope-aggregator[.stickyscope.svc] and localhost
Keys are ECDSA P-256, written mode 0600. A ca.crt/ca.key already in DIR is reused,
so nodes that join later get certificates from the same CA. Then it prints the
kubectl commands that load them as the Secret the DaemonSet mounts.

Options:
  --out DIR        where to write (made if missing)
  --node NODE      a node to make an agent certificate for (repeat; the names
                   'kubectl get nodes' shows)
  --client NAME    a client certificate (repeat; default: one named 'client')
  --days N         validity of the node and client certificates (default 365)
  -h, --help       this text

Example:
  stickyscope certs --out ./tls $(kubectl get nodes -o name | sed 's|node/|--node |')`,

  async run(argv) {
    const { values } = parse(argv, {
      out: { type: 'string' },
      node: { type: 'string', multiple: true },
      client: { type: 'string', multiple: true },
      days: { type: 'string' },
    });
    if (!values.out) throw new UsageError('certs needs --out DIR, where to write the certificates');
    const nodes = values.node ?? [];
    if (nodes.length === 0)
      throw new UsageError('certs needs at least one --node NODE (an agent certificate per node)');
    const days = values.days === undefined ? 365 : Number(values.days);
    if (!Number.isInteger(days) || days < 1 || days > 3650)
      throw new UsageError(`--days expects a whole number of days from 1 to 3650; got '${values.days}'`);
    const clients = values.client ?? ['client'];
    const { writeCertDir } = await import('../../certs/make-certs.js');
    const made = await writeCertDir(values.out, { nodes, clients, days });
    const dir = made.dir;
    process.stderr.write(
      `${made.reusedCa ? `used the CA in ${dir}` : `made a CA in ${dir}`}; wrote ${made.written.join(', ')}\n`,
    );
    const secretFiles = ['ca.crt', ...nodes.flatMap((n) => [`${n}.crt`, `${n}.key`])];
    const client = clients[0]!;
    process.stdout.write(`# The agents' Secret (the DaemonSet mounts it; ca.key stays out of the cluster):
kubectl -n stickyscope create secret generic stickyscope-agent-tls \\
${secretFiles.map((f) => `  --from-file=${f}=${dir}/${f}`).join(' \\\n')} \\
  --dry-run=client -o yaml | kubectl apply -f -
# Running agents take changed files without a restart (the kubelet updates the mount, the
# agent re-reads it every 10 s); a node missing from the Secret keeps its agent from starting.

# The aggregator's (its reports over mutual TLS, port 7392; and its client certificate):
kubectl -n stickyscope create secret generic stickyscope-aggregator-tls \\
  --from-file=tls.crt=${dir}/aggregator.crt --from-file=tls.key=${dir}/aggregator.key \\
  --from-file=ca.crt=${dir}/ca.crt --dry-run=client -o yaml | kubectl apply -f -
kubectl -n stickyscope create secret generic stickyscope-client-tls \\
  --from-file=tls.crt=${dir}/${client}.crt --from-file=tls.key=${dir}/${client}.key \\
  --from-file=ca.crt=${dir}/ca.crt --dry-run=client -o yaml | kubectl apply -f -

# Then, from where you run the clients:
stickyscope tui --k8s --tls-ca ${dir}/ca.crt --tls-cert ${dir}/${client}.crt --tls-key ${dir}/${client}.key
`);
    return 0;
  },
};
