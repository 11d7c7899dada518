// The one way stickyscope makes Prometheus metrics, for agent --metrics and serve's /metrics:
// a table of series (name, help, labels, how to fill them from one reading), filled by
// collect() at scrape time. Nothing is counted per event, and every series of one scrape
// reads the same reading, taken when the table's first series is collected. A new metric
// is one row in the table of the process that exposes it (docs/architecture.md).
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export type Labels = Record<string, string>;
/** Sets one labelled value; null, undefined, NaN and infinities make no sample. */
export type SetValue = (labels: Labels, value: number | null | undefined) => void;

/** One series: a counter (monotonic, `_total`) or a gauge, filled from the table's reading `R`. */
export interface Series<R> {
  kind: 'counter' | 'gauge';
  name: string;
  help: string;
  labels?: readonly string[];
  fill(set: SetValue, reading: R): void;
}

const sample = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v);

export class MetricRegistry {
  readonly registry = new Registry();

  /** `labels`: set on every series (the agent's node); the process's default metrics are included. */
  constructor(labels?: Labels) {
    if (labels) this.registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry });
  }

  /** Registers the table's series; `read()` is called once per scrape, by the first series collected. */
  add<R>(table: readonly Series<R>[], read: () => R): void {
    let reading: R;
    table.forEach((s, i) => {
      const config = { name: s.name, help: s.help, labelNames: [...(s.labels ?? [])], registers: [this.registry] };
      const current = () => {
        if (i === 0) reading = read();
        return reading;
      };
      if (s.kind === 'counter')
        new Counter({
          ...config,
          collect() {
            this.reset();
            s.fill((labels, v) => {
              if (sample(v)) this.inc(labels, v);
            }, current());
          },
        });
      else
        new Gauge({
          ...config,
          collect() {
            this.reset();
            s.fill((labels, v) => {
              if (sample(v)) this.set(labels, v);
            }, current());
          },
        });
    });
  }

  /** The text exposition of one scrape. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** An HTTP server answering GET and HEAD /metrics with a scrape, and nothing else. */
  httpServer(): Server {
    return createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res
          .writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' })
          .end(`method ${req.method} not allowed\n`);
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such path; expected /metrics\n');
        return;
      }
      this.scrape().then(
        (text) =>
          res
            .writeHead(200, { 'Content-Type': this.registry.contentType })
            .end(req.method === 'HEAD' ? undefined : text),
        (err: Error) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`failed to collect: ${err.message}\n`),
      );
    });
  }
}
