// The agent's rules-read watermarks (RulesReadEvent): after a read of the node's rules, the time up to which every
// family's rules are known. Sent only when something needs it - a catalog changed, or events came that no watermark
// covers yet - so an idle node sends nothing, and a flow costs one comparison per batch, not a field of its own.

export class RulesReadMarks {
  /** When each family's latest good read began, microseconds (NaN before the first). */
  private readonly readAt: number[];
  /** Latest event time the probe handed over. */
  private lastEventTs = -Infinity;
  private catalogChanged = true;
  private sent = -Infinity;

  constructor(
    families: number,
    private readonly emit: (readAt: number) => void,
  ) {
    this.readAt = new Array<number>(families).fill(Number.NaN);
  }

  /** A batch of the probe's events, in time order: only its last time matters. */
  sawEvents(lastTs: number): void {
    if (lastTs > this.lastEventTs) this.lastEventTs = lastTs;
  }

  /** A read changed what the catalog says: the next watermark goes out whatever the traffic. */
  changed(): void {
    this.catalogChanged = true;
  }

  /** Whether a watermark would go out now: a catalog changed, or events came that none covers. */
  wanted(): boolean {
    return this.catalogChanged || this.lastEventTs > this.sent;
  }

  /** `family`'s rules were read (changed or not) by a read that began at `startedAt`, or known unchanged since then. */
  read(family: number, startedAt: number): void {
    if (!(startedAt <= this.readAt[family]!)) this.readAt[family] = startedAt;
    let w = Infinity;
    for (const t of this.readAt) w = Math.min(w, t);
    if (!(w > this.sent)) return;
    if (!this.catalogChanged && !(this.lastEventTs > this.sent)) return;
    this.catalogChanged = false;
    this.sent = w;
    this.emit(w);
  }
}
