import { writeFile } from 'node:fs/promises';
import { parse, parseDuration, shutdownSignal, type Command } from '../command.js';
import { UsageError } from '../errors.js';

export const command: Command = {
  usage: `Usage: stickyscope report FILE [options]
       stickyscope report --agent HOST:PORT [--agent ...] --duration D [options]

Aggregates selections into a report per Service: backend shares and spread
(max/mean, CV, Jain, chi-square p), stickiness against random choice (1/K), session
affinity verdicts (held, violation, forcedRepick, expired) and per-client detail.
From a trace file (see 'stickyscope record') it reads as fast as the machine allows;
from agents it listens for the duration, then reports. Both give the same report for
the same events.

Options:
  --agent HOST:PORT       listen to an agent instead of reading a file (repeat for several nodes)
  --duration D            with --agent: how long to listen (30s, 5m)
  --format json|md|html   json (DESIGN.md's report object), md (tables) or html (one
                          self-contained page with charts); default json
  -o, --output OUT        write the report to OUT instead of stdout
  --window D              report only the last D of the events (60s, 10m); default:
                          everything in the file or the listening time
  -h, --help              this text

Examples:
  stickyscope report capture.trace --format html -o report.html
  stickyscope report --agent 127.0.0.1:7070 --duration 30s --format md`,

  async run(argv) {
    const { values, positionals } = parse(argv, {
      agent: { type: 'string', multiple: true },
      duration: { type: 'string' },
      format: { type: 'string', default: 'json' },
      output: { type: 'string', short: 'o' },
      window: { type: 'string' },
    }, true);
    const format = values.format;
    if (format !== 'json' && format !== 'md' && format !== 'html') throw new UsageError(`--format expects json, md or html; got '${format}'`);
    const windowSeconds = values.window === undefined ? undefined : parseDuration(values.window, '--window') / 1000;
    if (windowSeconds !== undefined && !(windowSeconds > 0)) throw new UsageError(`--window expects a positive duration; got '${values.window}'`);
    const agents = values.agent ?? [];
    if (agents.length > 0 && positionals.length > 0) throw new UsageError(`report reads either a FILE or --agent, not both; got ${positionals.join(' ')} and --agent ${agents.join(' ')}`);
    if (agents.length === 0 && positionals.length !== 1) throw new UsageError(`report expects one trace FILE or --agent HOST:PORT; got ${positionals.length ? positionals.join(' ') : 'neither'}`);

    const { reportFromAgents, reportFromFile } = await import('../../report/from-file.js');
    let text: string;
    if (agents.length > 0) {
      for (const a of agents) if (!/^.+:\d+$/.test(a)) throw new UsageError(`--agent expects HOST:PORT; got '${a}'`);
      if (values.duration === undefined) throw new UsageError('report --agent needs --duration D: how long to listen before reporting');
      const durationMs = parseDuration(values.duration, '--duration');
      process.stderr.write(`listening to ${agents.join(', ')} for ${values.duration} (Ctrl-C reports early)\n`);
      text = await reportFromAgents(agents, {
        format,
        windowSeconds,
        durationMs,
        signal: shutdownSignal(),
        onStatus: (s) => process.stderr.write(`agent ${s.address} (${s.node}) ${s.state}${s.reason ? ': ' + s.reason : ''}\n`),
      });
    } else {
      text = await reportFromFile(positionals[0]!, { format, windowSeconds, onWarning: (w) => process.stderr.write(`stickyscope report: warning: ${w.message}\n`) });
    }
    if (values.output) await writeFile(values.output, text);
    else process.stdout.write(text);
    return 0;
  },
};
