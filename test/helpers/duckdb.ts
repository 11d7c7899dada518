// Runs the SQL of docs/sql/ in DuckDB (@duckdb/node-api, a devDependency) over Parquet exports, as docs/parquet.md shows.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const sqlDir = fileURLToPath(new URL('../../../docs/sql/', import.meta.url));

/** The text of docs/sql/NAME.sql. */
export function sqlFile(name: string): string {
  return readFileSync(`${sqlDir}${name}.sql`, 'utf8');
}

/** Rows of each query, over the view `events` reading `parquetFiles` (paths or globs). */
export async function queryEvents(parquetFiles: string[], queries: string[]): Promise<Record<string, unknown>[][]> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const list = parquetFiles.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
    await c.run(`CREATE VIEW events AS SELECT * FROM read_parquet([${list}])`);
    const out: Record<string, unknown>[][] = [];
    for (const q of queries) out.push((await c.runAndReadAll(q)).getRowObjectsJS() as Record<string, unknown>[]);
    return out;
  } finally {
    c.closeSync();
    db.closeSync();
  }
}
