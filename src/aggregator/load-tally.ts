// A Service's load now, by its local backend index: connections open, and bytes carried (cumulative and in the
// window). Kept up to date per event by LiveConns, so a UI frame reads it in O(backends).

export class LoadTally {
  /** Connections open now. */
  readonly open: number[] = [];
  openTotal = 0;
  /** Bytes both ways since tracing began, and inside the window. */
  readonly bytesCum: number[] = [];
  readonly bytesWin: number[] = [];

  addOpen(backend: number, d: number): void {
    grow(this.open, backend);
    this.open[backend]! += d;
    this.openTotal += d;
  }

  addBytes(backend: number, n: number): void {
    grow(this.bytesCum, backend);
    grow(this.bytesWin, backend);
    this.bytesCum[backend]! += n;
    this.bytesWin[backend]! += n;
  }

  /** Bytes counted by addBytes leave the window. */
  leaveWindow(backend: number, n: number): void {
    this.bytesWin[backend]! -= n;
  }

  openOf(backend: number): number {
    return this.open[backend] ?? 0;
  }

  bytesOf(backend: number, inWindow: boolean): number {
    return (inWindow ? this.bytesWin : this.bytesCum)[backend] ?? 0;
  }
}

function grow(a: number[], i: number): void {
  while (a.length <= i) a.push(0);
}
