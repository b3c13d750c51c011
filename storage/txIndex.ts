import { fromHex } from '../codec/index.js'
import { Bucket } from './buckets.js'
import type { StoreContext } from './context.js'
import { StorageError } from './errors.js'
import { bucketKey } from './keys.js'
import { decodeRecord, txLocationSchema, type TxLocation } from './records.js'

export function txIdBytes (id: string | Uint8Array): Uint8Array {
  if (typeof id === 'string') {
    try { return fromHex(id, 32) } catch (err) { throw new StorageError('STORE_BAD_INPUT', 'tx id must be 64 lower-case hex chars or 32 bytes', id, { cause: err }) }
  }
  if (!(id instanceof Uint8Array) || id.length !== 32) throw new StorageError('STORE_BAD_INPUT', 'tx id must be 64 lower-case hex chars or 32 bytes', id)
  return id
}

/** tx id → where it committed and with which result code. */
export class TxIndexRepository {
  constructor (private readonly ctx: StoreContext) {}

  async get (id: string | Uint8Array): Promise<TxLocation | undefined> {
    this.ctx.assertOpen()
    const key = bucketKey(Bucket.txIndex, txIdBytes(id))
    const bytes = await this.ctx.db.get(key)
    return bytes === undefined ? undefined : decodeRecord(txLocationSchema, bytes, 'tx index entry')
  }

  async has (id: string | Uint8Array): Promise<boolean> {
    this.ctx.assertOpen()
    return await this.ctx.db.has(bucketKey(Bucket.txIndex, txIdBytes(id)))
  }
}
