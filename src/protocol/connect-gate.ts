// At most N agent connections being set up at once. Against a thousand agents, connecting
// to all at once queues a thousand TLS handshakes: each Info call's deadline then passes
// before its channel is ready, every one fails, backs off and tries again together.
export class ConnectGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly max: number) {}

  /** Resolves when a slot is free, with the function that frees it (calling it twice frees it once). */
  async acquire(): Promise<() => void> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter.
      if (next) next();
      else this.active--;
    };
  }
}
