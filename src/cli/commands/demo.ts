// `stickyscope demo`: the lab up, an agent on its node, traffic, and the live TUI on it (trace without a terminal).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, shutdownSignal, type Command } from '../command.js';
import { EnvironmentError } from '../../core/errors.js';
import { runPrefix } from '../../core/run-prefix.js';

export const command: Command = {
  usage: `Usage: stickyscope demo [--prefix P]

Builds the lab (a kube-proxy node made of network namespaces, with real iptables
rules and backends), runs an agent on its node and traffic through its Services,
and opens the live TUI on it, the two speaking mutual TLS with throwaway certificates
made in the lab's state dir: per Service, the backends' shares, stickiness and
affinity. Without a terminal it runs 'stickyscope trace' on the node instead.
q or Ctrl-C stops the traffic, the agent and the probe, and removes everything the
demo made.

Options:
  --prefix P   name prefix for the lab's namespaces (default: a fresh one per run)
  -h, --help   this text`,

  async run(argv) {
    const { values } = parse(argv, { prefix: { type: 'string' } });
    const prefix = values.prefix ?? runPrefix('demo');
    const stop = shutdownSignal();
    const { labUp, labDown } = await import('../../lab/lab.js');
    const { agentServerName } = await import('../../protocol/tls.js');
    const self = (args: string[], stdio: 'inherit' | 'ignore-out') =>
      spawn(process.execPath, [process.argv[1]!, ...args], {
        stdio: stdio === 'inherit' ? 'inherit' : ['ignore', 'ignore', 'inherit'],
      });
    const children: ChildProcess[] = [];
    const ended = (c: ChildProcess) =>
      new Promise<void>((resolve) =>
        c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
      );

    process.stderr.write(`demo: building the lab '${prefix}'\n`);
    try {
      const lab = await labUp({ prefix, signal: stop });
      const interactive = process.stdin.isTTY && process.stdout.isTTY;
      if (interactive) {
        const readyFile = join(lab.stateDir, 'demo-agent.ready');
        const agent = self(
          [
            'agent',
            '--netns',
            lab.nodeNetnsPath(0),
            '--listen',
            '127.0.0.1:0',
            '--node-name',
            lab.nodes[0]!,
            '--ready-file',
            readyFile,
            '--pods',
            lab.podsFile,
            ...lab.tls.agentArgs(0),
          ],
          'ignore-out',
        );
        children.push(agent);
        const address = await waitForFile(readyFile, agent, stop);
        children.push(self(['lab', 'traffic', '--prefix', prefix, '--duration', '24h'], 'ignore-out'));
        // The TUI owns the terminal; in raw mode Ctrl-C reaches it as a key and it quits.
        const tui = self(
          ['tui', '--agent', address, '--tls-server-name', agentServerName(lab.nodes[0]!), ...lab.tls.clientArgs()],
          'inherit',
        );
        children.push(tui);
        await Promise.race([
          ended(tui),
          new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true })),
        ]);
      } else {
        const trace = self(
          ['trace', '--netns', lab.nodeNetnsPath(0), '--node-name', lab.nodes[0]!, '--no-insert'],
          'inherit',
        );
        children.push(trace);
        const traffic = self(['lab', 'traffic', '--prefix', prefix, '--duration', '24h'], 'ignore-out');
        children.push(traffic);
        await Promise.race([
          ended(trace),
          ended(traffic),
          new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true })),
        ]);
      }
    } finally {
      for (const c of children.reverse()) {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGINT');
        await ended(c);
      }
      process.stderr.write(`demo: removing the lab '${prefix}'\n`);
      await labDown(prefix);
    }
    return 0;
  },
};

/** The agent writes its bound address once the probe is attached. */
async function waitForFile(file: string, owner: ChildProcess, stop: AbortSignal): Promise<string> {
  for (let waited = 0; waited < 20_000 && !stop.aborted; waited += 100) {
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    if (owner.exitCode !== null)
      throw new EnvironmentError(
        `failed to start the demo's agent: it exited with code ${owner.exitCode} (its error is above)`,
      );
    await sleep(100);
  }
  throw new EnvironmentError(
    stop.aborted
      ? 'interrupted while the agent was starting'
      : `failed to start the demo's agent: no ready file ${file} after 20 s`,
  );
}
