/** Binary min-heap ordered by (time, seq): equal times pop in insertion order, so runs replay exactly. */
export class EventQueue<T> {
  private times: number[] = []
  private seqs: number[] = []
  private items: T[] = []
  private seq = 0

  get size (): number { return this.items.length }

  push (time: number, item: T): void {
    this.times.push(time); this.seqs.push(this.seq++); this.items.push(item)
    let i = this.items.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) break
      this.swap(i, p); i = p
    }
  }

  peekTime (): number | undefined { return this.times[0] }

  pop (): { time: number, item: T } | undefined {
    if (this.items.length === 0) return undefined
    const time = this.times[0]; const item = this.items[0]
    const last = this.items.length - 1
    this.swap(0, last)
    this.times.pop(); this.seqs.pop(); this.items.pop()
    let i = 0
    for (;;) {
      const l = 2 * i + 1; const r = l + 1; let m = i
      if (l < this.items.length && this.less(l, m)) m = l
      if (r < this.items.length && this.less(r, m)) m = r
      if (m === i) break
      this.swap(i, m); i = m
    }
    return { time, item }
  }

  private less (a: number, b: number): boolean {
    return this.times[a] < this.times[b] || (this.times[a] === this.times[b] && this.seqs[a] < this.seqs[b])
  }

  private swap (a: number, b: number): void {
    [this.times[a], this.times[b]] = [this.times[b], this.times[a]]
    ;[this.seqs[a], this.seqs[b]] = [this.seqs[b], this.seqs[a]]
    ;[this.items[a], this.items[b]] = [this.items[b], this.items[a]]
  }
}
