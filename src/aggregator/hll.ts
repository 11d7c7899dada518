// A HyperLogLog sketch of distinct client IPs, small enough to ship per Service in every
// summary: 2^10 one-byte registers (about 3% standard error). Sketches of several nodes
// merge by taking each register's maximum, which a Prometheus sum cannot do.

const HLL_BITS = 10;
const HLL_REGISTERS = 1 << HLL_BITS;
const MAX_RANK = 32 - HLL_BITS + 1;

/** MurmurHash3's 32-bit mix over the string's UTF-16 code units (addresses are ASCII). */
function hashString(s: string): number {
  let h = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= s.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Hll {
  readonly registers = new Uint8Array(HLL_REGISTERS);
  /** Registers raised since the last takeChanges(), by index. */
  private readonly changed = new Set<number>();

  /** Adds one client IP ("ip" or "ip:port": the port is left out, a client is its address). */
  addClient(addr: string): void {
    const colon = addr.lastIndexOf(':');
    const ip = colon > 0 && addr.indexOf(':') === colon ? addr.slice(0, colon) : hostOfBracketed(addr);
    this.addHash(hashString(ip));
  }

  addHash(h: number): void {
    const idx = h >>> (32 - HLL_BITS);
    const rest = (h << HLL_BITS) >>> 0;
    const rank = rest === 0 ? MAX_RANK : Math.clz32(rest) + 1;
    if (rank > this.registers[idx]!) {
      this.registers[idx] = rank;
      this.changed.add(idx);
    }
  }

  /** Raises registers to those of another sketch (the union of both sets). */
  mergeRegisters(index: number, rank: number): void {
    // No 32-bit hash gives a rank above MAX_RANK: a larger one is no register of ours.
    if (index < HLL_REGISTERS && rank <= MAX_RANK && rank > this.registers[index]!) this.registers[index] = rank;
  }

  /** The registers raised since the last call, as 3-byte entries (index high, index low, rank). */
  takeChanges(): Uint8Array {
    const out = new Uint8Array(this.changed.size * 3);
    let i = 0;
    for (const idx of this.changed) {
      out[i++] = idx >>> 8;
      out[i++] = idx & 0xff;
      out[i++] = this.registers[idx]!;
    }
    this.changed.clear();
    return out;
  }

  /** Every non-zero register, in the same entries (what a new subscriber needs). */
  allEntries(): Uint8Array {
    const idx: number[] = [];
    this.registers.forEach((r, i) => {
      if (r > 0) idx.push(i);
    });
    const out = new Uint8Array(idx.length * 3);
    idx.forEach((r, j) => {
      out[j * 3] = r >>> 8;
      out[j * 3 + 1] = r & 0xff;
      out[j * 3 + 2] = this.registers[r]!;
    });
    return out;
  }

  /** Merges entries made by takeChanges() or allEntries(); a trailing partial entry is ignored. */
  mergeEntries(entries: Uint8Array): void {
    for (let i = 0; i + 2 < entries.length; i += 3)
      this.mergeRegisters((entries[i]! << 8) | entries[i + 1]!, entries[i + 2]!);
  }

  /** The estimate of distinct clients (linear counting while registers are still mostly empty). */
  estimate(): number {
    const m = HLL_REGISTERS;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < m; i++) {
      const r = this.registers[i]!;
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / m);
    const raw = (alpha * m * m) / sum;
    if (raw <= 2.5 * m && zeros > 0) return m * Math.log(m / zeros);
    return raw;
  }
}

/** "[v6]:port" -> "v6"; anything else as it is. */
function hostOfBracketed(addr: string): string {
  if (addr.startsWith('[')) {
    const end = addr.indexOf(']');
    if (end > 0) return addr.slice(1, end);
  }
  return addr;
}
