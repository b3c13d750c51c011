import { NodeError } from './errors.js'

/** What the mempool needs to know about a transaction; decoding happens before. */
export interface MempoolTx {
  id: string // tx id, hex
  bytes: Uint8Array
  sender: string // sender key, hex
  nonce: number
}

export interface MempoolLimits {
  maxTxs: number
  maxBytes: number
  /** Pending transactions one sender may hold (stops one key from filling the pool). */
  maxPerSender: number
  /** How far ahead of the sender's next nonce a transaction may be. */
  maxNonceGap: number
  /**
   * Milliseconds a transaction may wait in this mempool, counted from its admission here,
   * before it is evicted. Time, not blocks: blocks come at 1 to 15 per second, so a count of
   * blocks means anything from 40 s to 10 min, and a node catching up applies hundreds of
   * blocks in seconds, which would age a transaction it had just accepted.
   */
  ttlMs: number
}

export const DEFAULT_MEMPOOL_LIMITS: MempoolLimits = { maxTxs: 100_000, maxBytes: 64 * 1024 * 1024, maxPerSender: 10_000, maxNonceGap: 10_000, ttlMs: 600_000 }

interface Entry<T extends MempoolTx> { tx: T, seq: number, admittedAt: number }

export interface MempoolOptions {
  limits: MempoolLimits
  /** Height of the last block this node has stored: the mempool must know it before it admits anything. */
  head: number
  /** Wall clock (ms) for the TTL; injected so tests can move it. */
  clock: () => number
  metrics?: MempoolMetrics
}

export interface MempoolMetrics {
  setSize (txs: number, bytes: number): void
  rejected (reason: string): void
  evicted (count: number): void
}

/**
 * Pending transactions, deduplicated by id, ordered per sender by nonce and across
 * senders by arrival. `reap` returns only transactions whose nonce is the next one
 * for their sender, so a proposal never carries a gap.
 */
export class Mempool<T extends MempoolTx = MempoolTx> {
  private readonly byId = new Map<string, Entry<T>>()
  private readonly bySender = new Map<string, Map<number, Entry<T>>>()
  private readonly arrival = new Map<number, Entry<T>>() // seq → entry, iterates in insertion (= arrival) order
  private seq = 0
  private totalBytes = 0
  private head: number
  readonly limits: MempoolLimits
  private readonly clock: () => number
  private readonly metrics?: MempoolMetrics

  constructor (opts: MempoolOptions) {
    if (!Number.isSafeInteger(opts.head) || opts.head < 0) throw new NodeError('MEMPOOL_BAD_HEAD', `head height must be a non-negative integer, got ${String(opts.head)}`, 500, opts.head)
    if (!Number.isSafeInteger(opts.limits.ttlMs) || opts.limits.ttlMs <= 0) throw new NodeError('MEMPOOL_BAD_TTL', `ttlMs must be a positive integer, got ${String(opts.limits.ttlMs)}`, 500, opts.limits.ttlMs)
    this.limits = opts.limits
    this.head = opts.head
    this.clock = opts.clock
    this.metrics = opts.metrics
  }

  /** Height of the last block applied (the stored head at start, then every block after it). */
  get height (): number { return this.head }
  get size (): number { return this.byId.size }
  get bytes (): number { return this.totalBytes }
  has (id: string): boolean { return this.byId.has(id) }
  get (id: string): T | undefined { return this.byId.get(id)?.tx }

  /** The nonce a sender's next transaction should carry, counting its contiguous pending ones. */
  nextPendingNonce (sender: string, committedNext: number): number {
    const mine = this.bySender.get(sender)
    let n = committedNext
    while (mine?.has(n) === true) n++
    return n
  }

  /**
   * Admits a transaction whose signature and form were already checked.
   * `nextNonce` is the sender's next nonce in committed state.
   */
  add (tx: T, nextNonce: number): void {
    const reject = (code: string, message: string, status = 400, value?: unknown): never => {
      this.metrics?.rejected(code)
      throw new NodeError(code, message, status, value)
    }
    if (this.byId.has(tx.id)) reject('MEMPOOL_DUPLICATE', `transaction ${tx.id} is already pending`, 409, tx.id)
    if (tx.nonce < nextNonce) reject('TX_STALE_NONCE', `nonce ${tx.nonce} already used; next is ${nextNonce}`, 409, tx.nonce)
    if (tx.nonce > nextNonce + this.limits.maxNonceGap) reject('TX_NONCE_TOO_FAR', `nonce ${tx.nonce} is more than ${this.limits.maxNonceGap} ahead of ${nextNonce}`, 400, tx.nonce)
    let mine = this.bySender.get(tx.sender)
    if (mine?.has(tx.nonce) === true) reject('TX_NONCE_TAKEN', `a different transaction with nonce ${tx.nonce} is already pending for this sender`, 409, tx.nonce)
    if ((mine?.size ?? 0) >= this.limits.maxPerSender) reject('MEMPOOL_SENDER_FULL', `sender has ${this.limits.maxPerSender} pending transactions`, 429, tx.sender)
    if (this.byId.size >= this.limits.maxTxs || this.totalBytes + tx.bytes.length > this.limits.maxBytes) {
      reject('MEMPOOL_FULL', `mempool holds ${this.byId.size} transactions / ${this.totalBytes} bytes`, 503, this.byId.size)
    }
    const entry: Entry<T> = { tx, seq: this.seq++, admittedAt: this.clock() }
    this.byId.set(tx.id, entry)
    if (mine === undefined) { mine = new Map(); this.bySender.set(tx.sender, mine) }
    mine.set(tx.nonce, entry)
    this.arrival.set(entry.seq, entry)
    this.totalBytes += tx.bytes.length
    this.metrics?.setSize(this.byId.size, this.totalBytes)
  }

  /**
   * Up to maxTxs / maxBytes transactions for a block, in arrival order, each the next
   * nonce of its sender given the ones already taken.
   */
  reap (maxTxs: number, maxBytes: number, nextNonce: (sender: string) => number): T[] {
    const out: T[] = []
    const next = new Map<string, number>()
    let bytes = 0
    for (const entry of this.arrival.values()) {
      if (out.length >= maxTxs) break
      const { tx } = entry
      let n = next.get(tx.sender)
      if (n === undefined) n = nextNonce(tx.sender)
      if (tx.nonce !== n) continue
      if (bytes + tx.bytes.length > maxBytes) break
      out.push(tx)
      bytes += tx.bytes.length
      // Take the sender's following nonces right away, so a burst from one sender fills a block.
      let k = n + 1
      const mine = this.bySender.get(tx.sender)
      while (mine !== undefined && out.length < maxTxs) {
        const follow = mine.get(k)
        if (follow === undefined || bytes + follow.tx.bytes.length > maxBytes) break
        out.push(follow.tx)
        bytes += follow.tx.bytes.length
        k++
      }
      next.set(tx.sender, k)
    }
    return out
  }

  /** Pending transactions in arrival order: what a newly connected peer is offered. */
  * pending (): IterableIterator<T> {
    for (const entry of this.arrival.values()) yield entry.tx
  }

  remove (id: string): void {
    const entry = this.byId.get(id)
    if (entry === undefined) return
    this.byId.delete(id)
    this.arrival.delete(entry.seq)
    const mine = this.bySender.get(entry.tx.sender)
    mine?.delete(entry.tx.nonce)
    if (mine?.size === 0) this.bySender.delete(entry.tx.sender)
    this.totalBytes -= entry.tx.bytes.length
  }

  /**
   * After a block: drop what it committed, then re-check the rest against the new
   * state (stale nonces) and evict transactions that waited here longer than the TTL.
   * Blocks arrive one at a time on top of the head the mempool was built with; anything
   * else means the node lost track of its head, which would corrupt what is pending.
   */
  update (height: number, committedIds: Iterable<string>, nextNonce: (sender: string) => number): void {
    if (height !== this.head + 1) throw new NodeError('MEMPOOL_HEAD_MISMATCH', `block ${height} applied on top of mempool head ${this.head}`, 500, height)
    this.head = height
    for (const id of committedIds) this.remove(id)
    const expiredBefore = this.clock() - this.limits.ttlMs
    let evicted = 0
    for (const [sender, mine] of [...this.bySender]) {
      const n = nextNonce(sender)
      for (const entry of [...mine.values()]) {
        if (entry.tx.nonce < n || entry.admittedAt < expiredBefore) { this.remove(entry.tx.id); evicted++ }
      }
    }
    if (evicted > 0) this.metrics?.evicted(evicted)
    this.metrics?.setSize(this.byId.size, this.totalBytes)
  }
}

/** Bounded set of transaction ids whose signatures this node has verified: verify once per node. */
export class VerifiedTxCache {
  private readonly ids = new Set<string>()
  constructor (private readonly capacity = 500_000) {}
  has (id: string): boolean { return this.ids.has(id) }
  delete (id: string): void { this.ids.delete(id) }
  get size (): number { return this.ids.size }
  add (id: string): void {
    if (this.ids.size >= this.capacity) {
      // Drop the oldest eighth in insertion order: cheap, bounded, no per-entry bookkeeping.
      let drop = this.capacity >> 3
      for (const old of this.ids) { this.ids.delete(old); if (--drop === 0) break }
    }
    this.ids.add(id)
  }
}
