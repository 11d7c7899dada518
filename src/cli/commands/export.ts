// `stickyscope export`: a trace file's events as JSON lines, damage reported on stderr and skipped.
import { once } from 'node:events';
import { parse, type Command } from '../command.js';
import { UsageError } from '../../core/errors.js';
import { printable } from '../../core/text.js';

export const command: Command = {
  usage: `Usage: stickyscope export FILE [--format jsonl]

Prints every event of a trace file written by 'stickyscope record', one JSON object
per line (the same format as 'stickyscope trace --format jsonl'), in recorded order.
A rotated recording (FILE, FILE.1, ...) is read through to its last segment.

Damage does not stop the export: a truncated end, damaged frames or a missing
segment are reported on stderr with their byte offsets, and everything readable is
printed.

Options:
  --format jsonl   the only format for now (default)
  -h, --help       this text

Examples:
  stickyscope export capture.trace | grep '"type":"dnat"' | head
  stickyscope export capture.trace > capture.jsonl`,

  async run(argv) {
    const { values, positionals } = parse(argv, { format: { type: 'string', default: 'jsonl' } }, true);
    if (values.format !== 'jsonl') throw new UsageError(`--format expects jsonl; got '${values.format}'`);
    if (positionals.length !== 1)
      throw new UsageError(`export expects one trace FILE; got ${positionals.length ? positionals.join(' ') : 'none'}`);
    const { readTrace } = await import('../../record/trace-reader.js');
    const { eventToJsonLine } = await import('../../core/event-json.js');

    // A closed pipe (export | head) or a full disk ends the process from main.ts.
    for await (const batch of readTrace(positionals[0]!, {
      onWarning: (w) => process.stderr.write(`stickyscope export: warning: ${printable(w.message)}\n`),
    })) {
      let out = '';
      for (const e of batch) out += eventToJsonLine(e) + '\n';
      if (!process.stdout.write(out)) await once(process.stdout, 'drain');
    }
    return 0;
  },
};
