import { decode, readU64be } from '../codec/index.js'
import { Bucket } from './buckets.js'
import type { StoreContext } from './context.js'
import { asView } from './db.js'
import { StorageError } from './errors.js'
import { bucketKey, heightFromKey, heightKey } from './keys.js'
import { decodeRecord, headerSummarySchema, type HeaderSummary } from './records.js'

export interface BlockRangeItem {
  height: number
  block: Uint8Array
  /** The commit certificate of this block, when known. */
  commit?: Uint8Array
}

/** Most blocks one getRange call returns, whatever maxBytes allows. */
export const MAX_RANGE_BLOCKS = 1000

function checkHeight (height: number): void {
  if (!Number.isSafeInteger(height) || height < 0) throw new StorageError('STORE_BAD_INPUT', 'height must be a non-negative safe integer', height)
}

/** Read side of blocks, header summaries, hash index and commit certificates (writes go through ChainStore.commitBlock / putCommit). */
export class BlockRepository {
  constructor (private readonly ctx: StoreContext) {}

  /** Encoded block bytes at a height, or undefined. */
  async get (height: number): Promise<Uint8Array | undefined> {
    this.ctx.assertOpen(); checkHeight(height)
    return asView(await this.ctx.db.get(heightKey(Bucket.blockBytes, height)))
  }

  async has (height: number): Promise<boolean> {
    this.ctx.assertOpen(); checkHeight(height)
    return await this.ctx.db.has(heightKey(Bucket.blockBytes, height))
  }

  async getSummary (height: number): Promise<HeaderSummary | undefined> {
    this.ctx.assertOpen(); checkHeight(height)
    const bytes = await this.ctx.db.get(heightKey(Bucket.blockSummary, height))
    return bytes === undefined ? undefined : decodeRecord(headerSummarySchema, bytes, `header summary at height ${height}`)
  }

  async hashToHeight (hash: Uint8Array): Promise<number | undefined> {
    this.ctx.assertOpen()
    if (!(hash instanceof Uint8Array) || hash.length !== 32) throw new StorageError('STORE_BAD_INPUT', 'block hash must be 32 bytes', hash)
    const bytes = await this.ctx.db.get(bucketKey(Bucket.blockHashToHeight, hash))
    if (bytes === undefined) return undefined
    if (bytes.length !== 8) throw new StorageError('STORE_CORRUPT', `hash index entry of ${bytes.length} bytes, expected 8`, bytes)
    return readU64be(bytes)
  }

  /** Commit certificate (signed precommits) of the block at `height`, or undefined if not stored yet. */
  /** The block's result leaves (encoded, in tx order), or undefined. */
  async getResults (height: number): Promise<Uint8Array[] | undefined> {
    this.ctx.assertOpen()
    const bytes = await this.ctx.db.get(heightKey(Bucket.results, height))
    if (bytes === undefined) return undefined
    let leaves: unknown
    try { leaves = decode(asView(bytes), { maxBytes: 64 * 1024 * 1024, maxDepth: 2 }) } catch (err) {
      throw new StorageError('STORE_CORRUPT', `results of height ${height} do not decode: ${(err as Error).message}`, height)
    }
    if (!Array.isArray(leaves) || !leaves.every(l => l instanceof Uint8Array)) throw new StorageError('STORE_CORRUPT', `results of height ${height} are not a list of byte strings`, height)
    return leaves as Uint8Array[]
  }

  async getCommit (height: number): Promise<Uint8Array | undefined> {
    this.ctx.assertOpen(); checkHeight(height)
    return asView(await this.ctx.db.get(heightKey(Bucket.commitCert, height)))
  }

  /**
   * Blocks from..to inclusive in height order, for block sync: stops before the block that would
   * pass maxBytes (block + commit bytes), but always returns at least the first block if it exists,
   * and never more than MAX_RANGE_BLOCKS. Stops at the first missing height.
   */
  async getRange (from: number, to: number, maxBytes: number): Promise<BlockRangeItem[]> {
    this.ctx.assertOpen(); checkHeight(from); checkHeight(to)
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new StorageError('STORE_BAD_INPUT', 'maxBytes must be a positive integer', maxBytes)
    if (to < from) return []
    const last = Math.min(to, from + MAX_RANGE_BLOCKS - 1)
    const out: BlockRangeItem[] = []
    let total = 0
    let expected = from
    const it = this.ctx.db.iterator({ gte: heightKey(Bucket.blockBytes, from), lte: heightKey(Bucket.blockBytes, last) })
    try {
      for await (const [key, block] of it) {
        const height = heightFromKey(key)
        if (height !== expected) break
        const commit = asView(await this.ctx.db.get(heightKey(Bucket.commitCert, height)))
        const size = block.length + (commit?.length ?? 0)
        if (out.length > 0 && total + size > maxBytes) break
        total += size
        out.push(commit === undefined ? { height, block: asView(block) } : { height, block: asView(block), commit })
        expected++
      }
    } finally {
      await it.close()
    }
    return out
  }
}
