import { compareBytes, utf8 } from '../codec/index.js'
import { Bucket } from './buckets.js'
import type { StoreContext } from './context.js'
import { asView } from './db.js'
import { StorageError } from './errors.js'
import { bucketKey, bucketRange, decodeUtf8, prefixUpperBound, stringFromKey } from './keys.js'

export const MAX_STATE_KEY_BYTES = 1024
/** Default and ceiling of entries one scanPrefix returns: callers page with `after`. */
export const DEFAULT_SCAN_LIMIT = 10_000
export const MAX_SCAN_LIMIT = 1_000_000

export interface ScanOptions {
  /** Most entries yielded (default DEFAULT_SCAN_LIMIT, at most MAX_SCAN_LIMIT). */
  limit?: number
  /** Newest-first (descending key order). */
  reverse?: boolean
  /** Resume after this key (exclusive), in the scan's direction. */
  after?: string
}

export function checkStateKey (key: unknown): Uint8Array {
  if (typeof key !== 'string' || key.length === 0) throw new StorageError('STORE_BAD_INPUT', 'state key must be a non-empty string', key)
  const bytes = utf8(key)
  if (bytes.length > MAX_STATE_KEY_BYTES) throw new StorageError('STORE_BAD_INPUT', `state key longer than ${MAX_STATE_KEY_BYTES} bytes`, key.slice(0, 64))
  return bytes
}

type Entry = [Uint8Array, Uint8Array]

/**
 * Ledger state on disk. Two buckets under one string keyspace: `state` (mutable entries, which the
 * ledger also holds in memory and reloads with entries()) and `appends` (write-once records such
 * as the audit trail, kept only here). get and scanPrefix see both; entries() only the mutable one.
 */
export class StateRepository {
  constructor (private readonly ctx: StoreContext) {}

  /** The value of a key (mutable state first, then append records), or undefined. */
  async get (key: string): Promise<Uint8Array | undefined> {
    this.ctx.assertOpen()
    const k = checkStateKey(key)
    const v = await this.ctx.db.get(bucketKey(Bucket.state, k))
    if (v !== undefined) return asView(v)
    return asView(await this.ctx.db.get(bucketKey(Bucket.appends, k)))
  }

  /**
   * The committed value of a mutable state key, read synchronously (LevelDB getSync):
   * the ledger's StateSource, so execution stays synchronous while values stay on disk.
   */
  readSync (key: string): Uint8Array | undefined {
    this.ctx.assertOpen()
    return asView(this.ctx.db.getSync(bucketKey(Bucket.state, checkStateKey(key))))
  }

  /** A state-tree node by position, read synchronously (the ledger's SmtNodeReader). */
  readNodeSync (position: Uint8Array): Uint8Array | undefined {
    this.ctx.assertOpen()
    return asView(this.ctx.db.getSync(bucketKey(Bucket.stateNodes, position)))
  }

  /** Every state-tree node [position, bytes] in position order (verify-chain counts them). */
  async * nodes (): AsyncGenerator<[Uint8Array, Uint8Array]> {
    this.ctx.assertOpen()
    const it = this.ctx.db.iterator(bucketRange(Bucket.stateNodes))
    try {
      for await (const [key, value] of it) yield [key.subarray(1), asView(value)]
    } finally {
      await it.close()
    }
  }

  /** Every mutable state key in key byte order (restart: the ledger's group index). */
  async * keys (): AsyncGenerator<string> {
    this.ctx.assertOpen()
    const it = this.ctx.db.keys(bucketRange(Bucket.state))
    try {
      for await (const key of it) yield stringFromKey(key)
    } finally {
      await it.close()
    }
  }

  /** Every mutable state entry in key byte order. */
  async * entries (): AsyncGenerator<[string, Uint8Array]> {
    this.ctx.assertOpen()
    const it = this.ctx.db.iterator(bucketRange(Bucket.state))
    try {
      for await (const [key, value] of it) yield [stringFromKey(key), asView(value)]
    } finally {
      await it.close()
    }
  }

  /** Entries of both buckets whose key starts with `prefix`, merged in key byte order. */
  async * scanPrefix (prefix: string, options: ScanOptions = {}): AsyncGenerator<[string, Uint8Array]> {
    this.ctx.assertOpen()
    if (typeof prefix !== 'string') throw new StorageError('STORE_BAD_INPUT', 'prefix must be a string', prefix)
    const limit = options.limit ?? DEFAULT_SCAN_LIMIT
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_SCAN_LIMIT) throw new StorageError('STORE_BAD_INPUT', `limit must be an integer in [0, ${MAX_SCAN_LIMIT}]`, limit)
    const reverse = options.reverse === true
    const after = options.after === undefined ? undefined : checkStateKey(options.after)
    const p = utf8(prefix)
    const a = this.bucketScan(Bucket.state, p, reverse, after)
    const b = this.bucketScan(Bucket.appends, p, reverse, after)
    try {
      let x = await a.next()
      let y = await b.next()
      let n = 0
      while (n < limit && (x.done !== true || y.done !== true)) {
        let takeA: boolean
        if (x.done === true) takeA = false
        else if (y.done === true) takeA = true
        else {
          const c = compareBytes(x.value[0], y.value[0])
          takeA = reverse ? c >= 0 : c <= 0
        }
        if (takeA && x.done !== true) {
          yield [decodeUtf8(x.value[0]), x.value[1]]
          x = await a.next()
        } else if (y.done !== true) {
          yield [decodeUtf8(y.value[0]), y.value[1]]
          y = await b.next()
        }
        n++
      }
    } finally {
      await a.return(undefined)
      await b.return(undefined)
    }
  }

  private async * bucketScan (bucket: Bucket, prefix: Uint8Array, reverse: boolean, after: Uint8Array | undefined): AsyncGenerator<Entry> {
    const lo = bucketKey(bucket, prefix)
    const hi = prefixUpperBound(lo) as Uint8Array // never undefined: the bucket byte is < 0xff
    const range: { gte?: Uint8Array, gt?: Uint8Array, lt?: Uint8Array, lte?: Uint8Array } = { gte: lo, lt: hi }
    if (after !== undefined) {
      const cursor = bucketKey(bucket, after)
      if (reverse) {
        if (compareBytes(cursor, hi) < 0) range.lt = cursor
      } else if (compareBytes(cursor, lo) >= 0) {
        delete range.gte
        range.gt = cursor
      }
    }
    const it = this.ctx.db.iterator({ ...range, reverse })
    try {
      for await (const [key, value] of it) yield [key.subarray(1), asView(value)]
    } finally {
      await it.close()
    }
  }
}
