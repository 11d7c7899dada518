// Writes events as a Parquet file through a sink, one row group at a time: memory holds one row group's rows and
// its encoded bytes, whatever the number of events (hyparquet-writer encodes; docs/design.md has the schema).
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { StickyEvent } from '../core/event.js';
import { COLUMNS, parquetSchema, type ColumnSpec } from './parquet-columns.js';
import { RowBuffer } from './parquet-rows.js';

/** Where the bytes go, in order; a write resolves once the bytes are taken (backpressure). */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
}

/** Rows per row group: big enough for dictionaries and compression to pay, small enough to stream. */
const ROW_GROUP_ROWS = 25_000;

/** hyparquet-writer's byte buffer, handed to the sink after each row group instead of growing. */
class SinkWriter extends ByteWriter {
  constructor(private readonly sink: ByteSink) {
    super(1 << 20);
  }

  flush(): Promise<void> {
    const chunk = new Uint8Array(this.buffer.slice(0, this.index));
    this.index = 0;
    return this.sink.write(chunk);
  }

  override finish(): Promise<void> {
    return this.flush();
  }
}

export class ParquetEventWriter {
  private readonly rows = new RowBuffer();
  private readonly writer: ParquetWriter;
  private seq = 0;

  constructor(
    sink: ByteSink,
    private readonly rowGroupRows = ROW_GROUP_ROWS,
    createdBy = 'stickyscope',
  ) {
    this.writer = new ParquetWriter({ writer: new SinkWriter(sink), schema: parquetSchema(), createdBy });
  }

  /** Adds a batch of events read from `trace`; writes a row group whenever one is full. */
  async add(events: readonly StickyEvent[], trace: string): Promise<void> {
    for (const e of events) {
      this.rows.add(e, this.seq++, trace);
      if (this.rows.length >= this.rowGroupRows) await this.writeGroup();
    }
  }

  /** Writes the last row group and the footer. */
  async finish(): Promise<void> {
    if (this.rows.length > 0) await this.writeGroup();
    await this.writer.finish();
  }

  /** Events added so far. */
  get events(): number {
    return this.seq;
  }

  private async writeGroup(): Promise<void> {
    const n = this.rows.length;
    const data = this.rows.take();
    await this.writer.write({
      columnData: COLUMNS.map((c: ColumnSpec, i) => ({
        name: c.name,
        data: data[i]! as never[],
        statistics: c.stats === true,
      })),
      rowGroupSize: n,
    });
  }
}
