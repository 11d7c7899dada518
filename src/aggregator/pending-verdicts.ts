// Verdicts that wait for the rules that judge them. A client re-picked while its old backend was still listed looks
// like an affinity violation, but the agent reads the node's rules after the kernel applied them: the backend may
// already have gone (a pod removed in a rollout), and then the re-pick was forced. Such a violation is held pending
// until the node's agent says it read the rules at or after the pick (a `rulesRead` watermark), then judged by the
// catalog of that read. Nodes that never sent a watermark (older agents and traces) are judged at once, as before.
import type { OpenViolation } from './violation-causes.js';

export class PendingVerdicts {
  /** Latest watermark by node index; NaN (or a hole) for nodes that never sent one. */
  private readonly readAt: number[] = [];
  /** Pending violations by node, oldest first (a node's picks arrive in time order). */
  private readonly byNode: OpenViolation[][] = [];
  private count = 0;
  /** Pending violations judged early to keep the state bounded (by the rules known then). */
  judgedEarly = 0;

  constructor(
    private readonly maxPending: number,
    /** Judges one pending violation by the node's catalog as it is now. */
    private readonly judge: (v: OpenViolation) => void,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Whether a violation on `node` at `ts` must wait: the node sends watermarks and none covers `ts` yet. */
  mustWait(node: number, ts: number): boolean {
    const w = this.readAt[node];
    return w !== undefined && !(ts <= w);
  }

  hold(v: OpenViolation): void {
    if (this.count >= this.maxPending) this.judgeOldest();
    const q = this.byNode[v.node];
    if (q) q.push(v);
    else this.byNode[v.node] = [v];
    this.count++;
  }

  /**
   * `node` sent a catalog: a pending violation whose old backend it no longer lists was forced. A read reflects the
   * rules at some moment between its start and its end, so the first read after the pick may show the backend back
   * already (a rollout adding it again within a read period): any catalog since the pick that lacked it settles it.
   */
  catalog(node: number, listed: (v: OpenViolation) => boolean): void {
    for (const v of this.byNode[node] ?? []) if (!listed(v)) v.gone = true;
  }

  /** `node`'s rules were read at `readAt` (the catalog it sent before says what they said): judges what that covers. */
  rulesRead(node: number, readAt: number): void {
    // A crafted NaN or infinite watermark would hold every later violation of the node for good.
    if (!Number.isFinite(readAt)) return;
    if (!(readAt <= this.readAt[node]!)) this.readAt[node] = readAt;
    const q = this.byNode[node];
    if (!q || q.length === 0) return;
    let n = 0;
    while (n < q.length && q[n]!.ts <= readAt) n++;
    if (n === 0) return;
    const ready = q.splice(0, n);
    this.count -= n;
    for (const v of ready) this.judge(v);
  }

  /** No more watermarks will come for `node` (its agent went away): judges its pending ones by what is known. */
  nodeGone(node: number): void {
    const q = this.byNode[node];
    if (!q || q.length === 0) return;
    this.byNode[node] = [];
    this.count -= q.length;
    for (const v of q) this.judge(v);
  }

  /** The end of a file or report: every pending violation judged by the latest rules known. */
  judgeAll(): void {
    for (let n = 0; n < this.byNode.length; n++) this.nodeGone(n);
  }

  private judgeOldest(): void {
    let oldest = -1;
    for (let n = 0; n < this.byNode.length; n++) {
      const q = this.byNode[n];
      if (q && q.length > 0 && (oldest === -1 || q[0]!.ts < this.byNode[oldest]![0]!.ts)) oldest = n;
    }
    if (oldest === -1) return;
    const v = this.byNode[oldest]!.shift()!;
    this.count--;
    this.judgedEarly++;
    this.judge(v);
  }
}
