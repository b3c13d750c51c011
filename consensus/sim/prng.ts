/** sfc32: small, fast, seeded; the only source of randomness in a simulation run. */
export class Prng {
  private a: number; private b: number; private c: number; private d: number
  constructor (seed: number) {
    this.a = 0x9e3779b9; this.b = 0x243f6a88; this.c = 0xb7e15162; this.d = (seed >>> 0) ^ Math.floor(seed / 0x100000000)
    for (let i = 0; i < 16; i++) this.u32()
  }

  u32 (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1). */
  next (): number { return this.u32() / 0x100000000 }
  /** Uniform integer in [lo, hi]. */
  int (lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)) }
  chance (p: number): boolean { return p > 0 && this.next() < p }
  pick<T> (items: readonly T[]): T { return items[Math.floor(this.next() * items.length)] }
  bytes (n: number): Uint8Array { const out = new Uint8Array(n); for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff; return out }
  shuffle<T> (items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) { const j = Math.floor(this.next() * (i + 1)); [items[i], items[j]] = [items[j], items[i]] }
    return items
  }
}
