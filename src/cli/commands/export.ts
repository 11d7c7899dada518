// `stickyscope export`: trace files' events as JSON lines or as one Parquet file, damage reported on stderr and skipped.
import { once } from 'node:events';
import {
  outputOptions,
  parse,
  parseNarrowing,
  parseOutputFormat,
  timeRangeOptions,
  timeRangeUsage,
  type Command,
} from '../command.js';
import { parseServices, serviceOption } from '../service-option.js';
import { UsageError } from '../../core/errors.js';
import { printable } from '../../core/text.js';
import type { StickyEvent } from '../../core/event.js';
import type { ByteSink } from '../../export/parquet-writer.js';
import type { OutputFile } from '../../export/output-file.js';

export const command: Command = {
  usage: `Usage: stickyscope export FILE|DIR... [-o jsonl|parquet] [-w OUT]

Writes every event of trace files written by 'stickyscope record', in recorded order,
one file after the other. A rotated recording (FILE, FILE.1, ...) is read through to its
last segment. A directory stands for every trace file in it, by name (the rotated
continuations of a FILE there are read through FILE).

  jsonl     one JSON object per line (the same format as 'stickyscope trace --format jsonl')
  parquet   one Parquet file, one row per event with typed columns (docs/design.md,
            "The Parquet export"), for DuckDB, pandas, Spark and the like; written to OUT,
            or to stdout when that is not a terminal

Damage does not stop the export: a truncated end, damaged frames or a missing
segment are reported on stderr with their byte offsets, and everything readable is
written. OUT appears only once complete (it is written under a temporary name beside it
and renamed); an export interrupted or failing leaves OUT as it was.

Options:
  -o, --output F  the format: jsonl (default) or parquet (--format F also works)
  -w, --write F   write to F instead of stdout
  --service S     only this Service's flows (repeatable): ip:port/proto, [v6]:port/proto or
                  namespace/name[:port]; the catalogs keep only the Services named
${timeRangeUsage(18)}
  -h, --help      this text

Examples:
  stickyscope export capture.trace | grep '"type":"dnat"' | head
  stickyscope export node1.trace -o parquet -w node1.parquet
  stickyscope export traces/ -o parquet -w all.parquet
  stickyscope export capture.trace --service lab/web --since 2026-12-07T11:00:00Z --until 2026-12-07T11:10:00Z
  duckdb -c "select serviceName, count(*) from 'node*.parquet' where type = 'dnat' group by all"`,

  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...outputOptions,
        ...serviceOption,
        ...timeRangeOptions,
      },
      true,
    );
    const format = parseOutputFormat(values, ['jsonl', 'parquet'] as const, 'jsonl');
    if (positionals.length === 0) throw new UsageError('export expects trace FILEs or directories; got none');
    const narrowing = { ...parseNarrowing(values), services: parseServices(values) };
    if (values.write === '') throw new UsageError('-w expects a file name; got an empty one');
    if (format === 'parquet' && values.write === undefined && process.stdout.isTTY)
      throw new UsageError('refusing to write Parquet (binary) to a terminal; give -w FILE or redirect stdout');
    const { traceFiles } = await import('../../record/trace-files.js');
    const { readTrace } = await import('../../record/trace-reader.js');
    const { narrowEvents, narrows } = await import('../../record/narrow-events.js');
    const warn = (message: string) => process.stderr.write(`stickyscope export: warning: ${printable(message)}\n`);
    const files = await traceFiles(positionals, (p, why) => warn(`${p}: ${why}; skipped`));

    let out: OutputFile | null = null;
    if (values.write !== undefined) {
      const { realpath } = await import('node:fs/promises');
      const real = (p: string) => realpath(p).catch(() => p);
      const target = await real(values.write);
      for (const f of files)
        if ((await real(f)) === target)
          throw new UsageError(`-w ${printable(values.write)} is one of the traces being read; give another file`);
      const { openOutputFile } = await import('../../export/output-file.js');
      out = await openOutputFile(values.write, `write ${format === 'parquet' ? 'Parquet' : 'JSON lines'} to`);
    }
    const sink: ByteSink = out ?? { write: writeStdout };
    // Ctrl-C or SIGTERM stops at the next batch: the temporary file is removed, OUT left as it was.
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const write = format === 'parquet' ? await parquetWriter(sink) : jsonlWriter(sink);
      for (const file of files) {
        // A closed pipe (export | head) or a full disk on stdout ends the process from main.ts.
        const read = readTrace(file, { onWarning: (w) => warn(w.message) });
        const batches = narrows(narrowing) ? narrowEvents(read, narrowing, (m) => warn(`${file}: ${m}`)) : read;
        for await (const batch of batches) {
          if (stop.signal.aborted) break;
          await write.add(batch, file);
        }
      }
      if (stop.signal.aborted) {
        await out?.abort();
        process.stderr.write(
          `stickyscope export: interrupted${values.write !== undefined ? `; ${printable(values.write)} was not written` : ''}\n`,
        );
        return 130;
      }
      await write.finish();
      await out?.commit();
    } catch (err) {
      await out?.abort();
      throw err;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return 0;
  },
};

interface EventWriter {
  add(events: readonly StickyEvent[], trace: string): Promise<void>;
  finish(): Promise<void>;
}

async function parquetWriter(sink: ByteSink): Promise<EventWriter> {
  const { ParquetEventWriter } = await import('../../export/parquet-writer.js');
  return new ParquetEventWriter(sink);
}

function jsonlWriter(sink: ByteSink): EventWriter {
  return {
    async add(events) {
      const { eventToJsonLine } = await import('../../core/event-json.js');
      let text = '';
      for (const e of events) text += eventToJsonLine(e) + '\n';
      await sink.write(Buffer.from(text));
    },
    async finish() {},
  };
}

async function writeStdout(chunk: Uint8Array): Promise<void> {
  if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
}
