import { spawn } from 'node:child_process';
import { parse, shutdownSignal, type Command } from '../command.js';
import { runPrefix } from '../run-prefix.js';

export const command: Command = {
  usage: `Usage: stickyscope demo [--prefix P]

Builds the lab (a kube-proxy node made of network namespaces, with real iptables
rules and backends), runs traffic through its Services, and traces the node live:
every backend selection as it happens. Ctrl-C stops the traffic, detaches the
probe and removes everything the demo made.

Options:
  --prefix P   name prefix for the lab's namespaces (default: a fresh one per run)
  -h, --help   this text`,

  async run(argv) {
    const { values } = parse(argv, { prefix: { type: 'string' } });
    const prefix = values.prefix ?? runPrefix('demo');
    const stop = shutdownSignal();
    const { labUp, labDown } = await import('../../lab/lab.js');
    const { startProbe } = await import('../../probe/probe.js');
    const { eventToText } = await import('../../probe/event-json.js');

    process.stderr.write(`demo: building the lab '${prefix}'\n`);
    try {
      const lab = await labUp({ prefix, signal: stop });
      const probe = startProbe({ node: `${prefix}-node`, netns: lab.nodeNetnsPath(0) });
      probe.on('events', (batch) => {
        let out = '';
        for (const e of batch) if (e.type !== 'counters' && e.type !== 'insert') out += eventToText(e) + '\n';
        process.stdout.write(out);
      });
      const failed = new Promise<never>((_, reject) => probe.on('error', reject));
      failed.catch(() => {});
      await Promise.race([probe.ready, failed]);
      process.stderr.write('demo: probe attached; starting traffic (Ctrl-C ends the demo)\n');
      const traffic = spawn(process.execPath, [process.argv[1]!, 'lab', 'traffic', '--prefix', prefix, '--duration', '24h'], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const trafficEnded = new Promise((resolve) => traffic.on('exit', resolve));
      await Promise.race([new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true })), failed, trafficEnded]);
      if (traffic.exitCode === null) traffic.kill('SIGINT');
      await trafficEnded;
      await probe.stop();
    } finally {
      process.stderr.write(`demo: removing the lab '${prefix}'\n`);
      await labDown(prefix);
    }
    return 0;
  },
};
