// nftables mode: each node's affinity sets, latest fill and the most elements seen, by Service. A full set pins no new
// client (setFull violations follow), so how full each set is belongs next to the verdicts.
import type { AffinitySetsEvent } from '../core/event.js';

export interface AffinitySetRow {
  node: string;
  endpoint: string;
  elements: number;
  size: number;
  /** elements / size. */
  fill: number;
  peakElements: number;
}

export class AffinitySetFills {
  /** By Service key, then "node|set". */
  private readonly byService = new Map<string, Map<string, AffinitySetRow>>();

  /** Each event lists all of a node's sets: sets it no longer lists are gone. */
  apply(ev: AffinitySetsEvent): void {
    const listed = new Set(ev.sets.map((s) => `${ev.node}|${s.set}`));
    for (const rows of this.byService.values())
      for (const [key, row] of rows) if (row.node === ev.node && !listed.has(key)) rows.delete(key);
    for (const s of ev.sets) {
      const rows = this.byService.get(s.service) ?? new Map<string, AffinitySetRow>();
      this.byService.set(s.service, rows);
      const key = `${ev.node}|${s.set}`;
      const peak = Math.max(rows.get(key)?.peakElements ?? 0, s.elements);
      const fill = s.size > 0 ? s.elements / s.size : 0;
      rows.set(key, {
        node: ev.node,
        endpoint: s.endpoint,
        elements: s.elements,
        size: s.size,
        fill,
        peakElements: peak,
      });
    }
  }

  /** A Service's sets, by node then endpoint; empty when none were reported. */
  of(service: string): AffinitySetRow[] {
    const rows = [...(this.byService.get(service)?.values() ?? [])].map((r) => ({ ...r }));
    return rows.sort((a, b) =>
      a.node < b.node ? -1 : a.node > b.node ? 1 : a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0,
    );
  }
}
