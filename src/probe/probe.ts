// The probe as the agent and the trace command see it: starts the C helper
// (build/stickyscope-probe) in the node's network namespace, decodes its records and
// emits them in kernel order; its failure lines become EnvironmentErrors.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../core/errors.js';
import type { StickyEvent } from '../core/event.js';
import { RecordDecoder } from './decode-records.js';
import type { AttachMode } from './record-layout.js';

export interface ProbeOptions {
  node: string;
  netns?: string;
  ringBufferBytes?: number;
  insertEvents?: boolean;
  /** Force one attach mode; by default the helper picks netfilter, else fentry, else kprobe. */
  attach?: AttachMode;
  /** Follow the conntrack table's DNATed connections (open, close, traffic, sweep events); default true. */
  liveConnections?: boolean;
  /** Period of the conntrack table sweep, ms (default: the helper's). */
  conntrackSweepMs?: number;
  /** Receive buffer of the helper's conntrack destroy socket, bytes (default: the kernel's). */
  conntrackRcvbufBytes?: number;
  /** Destroy messages a second beyond which the helper stops listening for a while (default: the helper's). */
  conntrackEventsMax?: number;
  helperPath?: string;
  /** libbpf's messages, its debug ones included, line by line (the helper's --verbose); dropped when absent. */
  onLibbpf?: (line: string) => void;
}

/**
 * Events: 'events' (batch: StickyEvent[]) in kernel order, 'note' (text: one of the helper's notes, as `notes`
 * collects them), 'error' (EnvironmentError | Error, e.g. the helper's "failed to" line), 'exit' (code: number | null).
 */
export interface Probe extends EventEmitter {
  /** Resolves on the helper's HELLO; rejects with an EnvironmentError carrying its failure line. */
  ready: Promise<void>;
  /** The helper's pid: its /proc/<pid>/net is the node's network namespace. */
  readonly pid: number | undefined;
  /** Where the helper attached its programs (complete once ready has resolved). */
  readonly attachPoints: readonly string[];
  /** The attach mode the helper chose (known once ready has resolved). */
  readonly attachMode: AttachMode | undefined;
  /** The helper's notes so far, e.g. why auto mode skipped a mode (without the "stickyscope-probe: note: " prefix). */
  readonly notes: readonly string[];
  /** SIGTERM, wait for exit; the final events are delivered first. */
  stop(): Promise<void>;
}

/** build/stickyscope-probe relative to the package root. */
export function helperPath(): string {
  return fileURLToPath(new URL('../../../build/stickyscope-probe', import.meta.url));
}

const FAILURE_PREFIX = 'stickyscope-probe: failed to ';
const NOTE_PREFIX = 'stickyscope-probe: note: ';
const STOP_GRACE_MS = 5000;
/** Events kept while nobody listens yet (the dump at attach comes right after HELLO, before the agent listens). */
const MAX_UNHEARD = 1_000_000;

class HelperProbe extends EventEmitter implements Probe {
  readonly ready: Promise<void>;
  private readonly child: ChildProcess;
  private readonly decoder: RecordDecoder;
  private readonly path: string;
  private failure: string | undefined;
  private failed = false;
  private killedAfterGrace = false;
  private stderrTail = '';
  private readonly onLibbpf: ((line: string) => void) | undefined;
  private readonly noted: string[] = [];
  private stopping = false;
  private closed: Promise<void>;
  private settleReady!: (err?: Error) => void;
  /** Events decoded before the first 'events' listener, handed to it; past MAX_UNHEARD, counted as lost. */
  private unheard: StickyEvent[] | null = [];
  private unheardLost = 0;

  constructor(opts: ProbeOptions) {
    super();
    this.decoder = new RecordDecoder(opts.node);
    this.path = opts.helperPath ?? helperPath();
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (err) => (err ? reject(err) : resolve());
    });
    // Callers that only listen for 'error' must not see an unhandled rejection too.
    this.ready.catch(() => {});
    this.on('newListener', (name: string) => {
      if (name === 'events' && this.unheard !== null) setImmediate(() => this.flushUnheard());
    });
    const args: string[] = [];
    if (opts.netns !== undefined) args.push('--netns', opts.netns);
    if (opts.ringBufferBytes !== undefined) args.push('--ringbuf-bytes', String(opts.ringBufferBytes));
    if (opts.insertEvents === false) args.push('--no-insert');
    if (opts.attach !== undefined) args.push('--attach', opts.attach);
    if (opts.onLibbpf) args.push('--verbose');
    this.onLibbpf = opts.onLibbpf;
    if (opts.liveConnections === false) args.push('--no-conntrack');
    if (opts.conntrackSweepMs !== undefined) args.push('--conntrack-sweep-ms', String(opts.conntrackSweepMs));
    if (opts.conntrackRcvbufBytes !== undefined) args.push('--conntrack-rcvbuf', String(opts.conntrackRcvbufBytes));
    if (opts.conntrackEventsMax !== undefined) args.push('--conntrack-events-max', String(opts.conntrackEventsMax));
    // stdin stays open and unused: the helper exits when it reaches EOF, i.e. when we die.
    this.child = spawn(this.path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => this.onStderr(text));
    this.closed = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.onClose(code, signal);
        resolve();
      });
    });
    this.child.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? `${this.path} does not exist (run 'npm run build')` : err.message;
      this.fail(new EnvironmentError(`failed to start the probe helper: ${why}`));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get attachPoints(): readonly string[] {
    return this.decoder.attachPoints;
  }

  get attachMode(): AttachMode | undefined {
    return this.decoder.attachMode;
  }

  get notes(): readonly string[] {
    return this.noted;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        this.killedAfterGrace = true;
        this.child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      await this.closed;
      clearTimeout(timer);
    } else if (this.child.pid !== undefined) {
      await this.closed;
    }
  }

  private onData(chunk: Buffer): void {
    let events: StickyEvent[];
    try {
      events = this.decoder.decode(chunk);
    } catch (err) {
      this.fail(err as Error);
      this.child.kill('SIGTERM');
      return;
    }
    if (this.decoder.started) this.settleReady();
    if (events.length === 0) return;
    if (this.unheard === null) this.emit('events', events);
    else if (this.unheard.length + events.length <= MAX_UNHEARD) this.unheard.push(...events);
    else this.unheardLost += events.length;
  }

  private flushUnheard(): void {
    const held = this.unheard;
    if (held === null || this.listenerCount('events') === 0) return;
    this.unheard = null;
    if (this.unheardLost > 0)
      held.push({ type: 'lost', ts: Date.now() * 1000, node: this.decoder.node, count: this.unheardLost });
    if (held.length > 0) this.emit('events', held);
  }

  private onStderr(text: string): void {
    const lines = (this.stderrTail + text).split('\n');
    this.stderrTail = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith(FAILURE_PREFIX) && this.failure === undefined) this.failure = line;
      else if (line.startsWith(NOTE_PREFIX)) {
        const note = line.slice(NOTE_PREFIX.length);
        this.noted.push(note);
        this.emit('note', note);
      } else this.onLibbpf?.(line);
    }
  }

  private onClose(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stderrTail.startsWith(FAILURE_PREFIX) && this.failure === undefined) this.failure = this.stderrTail;
    const expected = this.stopping && (code === 0 || signal === 'SIGTERM');
    if (this.failure !== undefined) {
      this.fail(new EnvironmentError(this.failure.slice('stickyscope-probe: '.length)));
    } else if (this.killedAfterGrace) {
      this.fail(
        new EnvironmentError(`probe helper did not stop within ${STOP_GRACE_MS / 1000} s of SIGTERM and was killed`),
      );
    } else if (!expected) {
      const how = signal ? `signal ${signal}` : `code ${code}`;
      this.fail(new EnvironmentError(`probe helper exited unexpectedly (${how})`));
    } else if (!this.decoder.started) {
      this.settleReady(new EnvironmentError('probe stopped before the helper had attached'));
    }
    this.emit('exit', code);
  }

  /** Reports the first failure: rejects ready if still pending, and emits 'error' once running. */
  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    if (!this.decoder.started) {
      this.settleReady(err);
      if (this.listenerCount('error') > 0) this.emit('error', err);
      return;
    }
    this.emit('error', err);
  }
}

export function startProbe(opts: ProbeOptions): Probe {
  return new HelperProbe(opts);
}
