// `stickyscope lab scenario`: list the field scenarios, or run one end to end.
import { parse, parseDuration, shutdownSignal } from '../command.js';
import { UsageError } from '../../core/errors.js';
import { checkWritable } from '../../core/file-errors.js';
import { runPrefix } from '../../core/run-prefix.js';
import { parseProxyFlags } from '../../lab/config.js';
import { findScenario, runScenario, scenarios } from '../../scenarios/index.js';
import type { IpFamily } from '../../lab/config.js';

export async function scenario(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      list: { type: 'boolean', default: false },
      tui: { type: 'boolean', default: false },
      report: { type: 'string' },
      duration: { type: 'string' },
      prefix: { type: 'string' },
      'proxy-mode': { type: 'string' },
      'kube-version': { type: 'string' },
      'ip-family': { type: 'string' },
      'late-start': { type: 'boolean', default: false },
    },
    true,
  );
  if (values.list) {
    if (positionals.length) throw new UsageError(`--list takes no scenario name; got '${positionals.join(' ')}'`);
    const width = Math.max(...scenarios.map((s) => s.name.length));
    for (const s of scenarios)
      process.stdout.write(
        `${s.name.padEnd(width)}  ${s.summary} (${s.seed.endsWith('.md') ? `seeds/${s.seed}` : s.seed})\n`,
      );
    return 0;
  }
  if (positionals.length !== 1)
    throw new UsageError(
      `expected 'lab scenario NAME' or 'lab scenario --list'; got ${positionals.length ? `'${positionals.join(' ')}'` : 'no name'}`,
    );
  if (values.tui && values.report !== undefined) throw new UsageError('give --tui or --report FILE, not both');
  const flags = parseProxyFlags(values['proxy-mode'], values['kube-version']);
  if (flags.kubeVersion !== undefined && flags.proxyMode !== 'nftables')
    throw new UsageError(
      `--kube-version ${flags.kubeVersion} chooses nftables mode's rule shape; add --proxy-mode nftables`,
    );
  const family = parseScenarioFamily(values['ip-family']);
  const chosen = findScenario(positionals[0]!);
  const phaseMs = values.duration === undefined ? undefined : parseDuration(values.duration, '--duration');
  if (phaseMs !== undefined && phaseMs < 1000)
    throw new UsageError(`--duration must be at least 1s; got '${values.duration}'`);
  if (values.tui && !(process.stdin.isTTY && process.stdout.isTTY))
    throw new UsageError('--tui needs a terminal (stdin and stdout must be TTYs); use --report FILE otherwise');
  // Found now rather than after the whole scenario ran.
  if (values.report !== undefined) await checkWritable(values.report, 'write the report to');
  const signal = shutdownSignal();
  const done = await runScenario(chosen, {
    prefix: values.prefix ?? runPrefix('scn'),
    setup: { proxyMode: flags.proxyMode ?? 'iptables', kubeVersion: flags.kubeVersion, family },
    phaseMs,
    lateStart: values['late-start'],
    reportFile: values.report,
    tui: values.tui,
    signal,
  });
  if (done) return 0;
  process.stderr.write(`stickyscope lab scenario: interrupted; removed what it had made\n`);
  return 130;
}

/** `--ip-family`: the family of the scenario's traffic, spelt as `lab up --ip-families` spells families. */
function parseScenarioFamily(text: string | undefined): IpFamily {
  if (text === undefined || text.toLowerCase() === 'ipv4') return 'IPv4';
  if (text.toLowerCase() === 'ipv6') return 'IPv6';
  throw new UsageError(`--ip-family expects ipv4 or ipv6; got '${text}'`);
}
