import { bytesEqual, readU64be, toHex } from '../codec/index.js'
import { Bucket, MetaKey } from './buckets.js'
import type { StoreContext } from './context.js'
import { StorageError } from './errors.js'
import { bucketKey, bucketRange, heightFromKey, heightKey } from './keys.js'
import { decodeRecord, headSchema, headerSummarySchema, type ChainHead, type HeaderSummary } from './records.js'

export interface IntegrityOptions {
  /** Heights below the head whose summary hash links are checked (default 1000). */
  depth?: number
  /** Hash of encoded block bytes as consensus computes it; when given, the newest blocks are re-hashed. */
  hashBlock?: (blockBytes: Uint8Array) => Uint8Array
  /** How many of the newest blocks are re-hashed with hashBlock (default 16). */
  hashDepth?: number
  /** Heights below the head whose block bytes must all be present (default 100,000; Infinity = every height). */
  blockScanDepth?: number
}

export interface IntegrityReport {
  head: ChainHead | null
  /** Heights whose header summaries were decoded and linked. */
  summariesChecked: number
  /** Block keys scanned (the newest blockScanDepth heights, plus block 1). */
  blocksScanned: number
}

export const DEFAULT_INTEGRITY_DEPTH = 1000
/** A key-only scan of 100k heights takes ~1-2 s on a loaded 2-core machine; older heights are left to a full check. */
export const DEFAULT_BLOCK_SCAN_DEPTH = 100_000

function corrupt (message: string, value?: unknown): never {
  throw new StorageError('STORE_CORRUPT', `${message}; the node refuses to serve this store (restore it or resync into an empty home)`, value)
}

export async function readHead (ctx: StoreContext): Promise<ChainHead | null> {
  const bytes = await ctx.db.get(bucketKey(Bucket.meta, Uint8Array.of(MetaKey.head)))
  return bytes === undefined ? null : decodeRecord(headSchema, bytes, 'chain head')
}

async function firstKey (ctx: StoreContext, bucket: Bucket, gte?: Uint8Array): Promise<Uint8Array | undefined> {
  const range = bucketRange(bucket)
  const keys = await ctx.db.keys({ gte: gte ?? range.gte, lt: range.lt, limit: 1 }).all()
  return keys[0]
}

/**
 * Checks that the head, the header summaries and the block bytes agree. Any inconsistency (or any
 * LevelDB read error) is STORE_CORRUPT, so a damaged node stops instead of serving wrong data.
 */
export async function verifyIntegrity (ctx: StoreContext, options: IntegrityOptions = {}): Promise<IntegrityReport> {
  try {
    return await check(ctx, options)
  } catch (err) {
    if (err instanceof StorageError) {
      if (err.code === 'STORE_CORRUPT') throw err
      throw new StorageError('STORE_CORRUPT', err.message, err.value, { cause: err })
    }
    throw new StorageError('STORE_CORRUPT', `reading the store failed: ${(err as Error).message}`, undefined, { cause: err })
  }
}

async function check (ctx: StoreContext, options: IntegrityOptions): Promise<IntegrityReport> {
  const depth = options.depth ?? DEFAULT_INTEGRITY_DEPTH
  const head = await readHead(ctx)
  if (head === null) {
    for (const bucket of [Bucket.blockBytes, Bucket.blockSummary, Bucket.blockHashToHeight, Bucket.commitCert, Bucket.txIndex, Bucket.state, Bucket.appends]) {
      const k = await firstKey(ctx, bucket)
      if (k !== undefined) corrupt(`no chain head recorded but bucket ${Bucket[bucket]} holds data`, k)
    }
    return { head: null, summariesChecked: 0, blocksScanned: 0 }
  }
  if (head.height === 0) corrupt('chain head at height 0', head)

  // Block bytes: block 1 exists, and every height of the scanned window up to the head; none beyond.
  const first = await firstKey(ctx, Bucket.blockBytes)
  if (first === undefined || heightFromKey(first) !== 1) corrupt(`block 1 is missing (first stored block is ${first === undefined ? 'none' : heightFromKey(first)})`, first)
  const scanDepth = options.blockScanDepth ?? DEFAULT_BLOCK_SCAN_DEPTH
  const scanLow = Math.max(1, scanDepth >= head.height ? 1 : head.height - scanDepth + 1)
  let expected = scanLow
  const keys = ctx.db.keys({ gte: heightKey(Bucket.blockBytes, scanLow), lt: bucketRange(Bucket.blockBytes).lt })
  try {
    for await (const key of keys) {
      const h = heightFromKey(key)
      if (h !== expected) corrupt(h > head.height ? `block at height ${h} above the head ${head.height}` : `block ${expected} is missing (next stored block is ${h})`, { expected, found: h })
      if (h === head.height) { expected++; break }
      expected++
    }
  } finally {
    await keys.close()
  }
  if (expected !== head.height + 1) corrupt(`block ${expected} is missing (head is ${head.height})`, { expected, head: head.height })
  const beyond = await firstKey(ctx, Bucket.blockBytes, heightKey(Bucket.blockBytes, head.height + 1))
  if (beyond !== undefined) corrupt(`block at height ${heightFromKey(beyond)} above the head ${head.height}`, heightFromKey(beyond))

  // Header summaries: the newest `depth` heights, hash-linked, ending at the head.
  const low = Math.max(1, head.height - depth + 1)
  let prev: HeaderSummary | undefined
  let h = low
  let checked = 0
  const it = ctx.db.iterator({ gte: heightKey(Bucket.blockSummary, low), lt: heightKey(Bucket.blockSummary + 1, 0) })
  try {
    for await (const [key, value] of it) {
      const kh = heightFromKey(key)
      if (kh !== h) corrupt(kh > head.height ? `header summary at height ${kh} above the head ${head.height}` : `header summary ${h} is missing`, { expected: h, found: kh })
      const summary = decodeRecord(headerSummarySchema, value, `header summary at height ${kh}`)
      if (prev !== undefined && !bytesEqual(summary.prevHash, prev.hash)) {
        corrupt(`hash link broken at height ${kh}: prevHash ${toHex(summary.prevHash)} but block ${kh - 1} is ${toHex(prev.hash)}`, { height: kh })
      }
      prev = summary
      checked++
      h++
      if (kh === head.height) break
    }
  } finally {
    await it.close()
  }
  if (prev === undefined || h !== head.height + 1) corrupt(`header summary ${h} is missing (head is ${head.height})`, { expected: h })
  if (!bytesEqual(prev.hash, head.hash)) corrupt(`head hash ${toHex(head.hash)} differs from the header summary's ${toHex(prev.hash)} at height ${head.height}`, head.height)
  if (!bytesEqual(prev.stateRoot, head.stateRoot)) corrupt(`head state root ${toHex(head.stateRoot)} differs from the header summary's ${toHex(prev.stateRoot)} at height ${head.height}`, head.height)
  const above = await firstKey(ctx, Bucket.blockSummary, heightKey(Bucket.blockSummary, head.height + 1))
  if (above !== undefined) corrupt(`header summary at height ${heightFromKey(above)} above the head ${head.height}`, heightFromKey(above))

  const indexed = await ctx.db.get(bucketKey(Bucket.blockHashToHeight, head.hash))
  if (indexed === undefined || indexed.length !== 8 || readU64be(indexed) !== head.height) corrupt(`hash index does not map the head hash to height ${head.height}`, head.height)

  if (options.hashBlock !== undefined) {
    const hashDepth = Math.min(options.hashDepth ?? 16, head.height - scanLow + 1)
    for (let height = head.height; height > head.height - hashDepth; height--) {
      const block = await ctx.db.get(heightKey(Bucket.blockBytes, height))
      const summary = await ctx.db.get(heightKey(Bucket.blockSummary, height))
      if (block === undefined || summary === undefined) corrupt(`block or summary ${height} is missing`, height)
      const want = decodeRecord(headerSummarySchema, summary, `header summary at height ${height}`).hash
      const got = options.hashBlock(block)
      if (!bytesEqual(got, want)) corrupt(`block bytes at height ${height} hash to ${toHex(got)}, the summary says ${toHex(want)}`, height)
    }
  }
  return { head, summariesChecked: checked, blocksScanned: head.height - scanLow + 1 }
}
