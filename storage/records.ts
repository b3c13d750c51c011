import { decode, encode, s, type Infer, type Schema } from '../codec/index.js'
import { StorageError, type StorageErrorCode } from './errors.js'

/** Small CBOR records that storage writes about itself. Closed schemas: any drift reads as corruption. */

const hash32 = s.bytes(32)

export const chainIdentitySchema = s.struct({ chainId: s.text(128), genesisHash: hash32 })
export type ChainIdentity = Infer<typeof chainIdentitySchema>

export const headSchema = s.struct({ height: s.uint(), hash: hash32, stateRoot: hash32 })
export type ChainHead = Infer<typeof headSchema>

export const headerSummarySchema = s.struct({
  hash: hash32,
  prevHash: hash32,
  stateRoot: hash32,
  time: s.uint(),
  txCount: s.uint()
})
export type HeaderSummary = Infer<typeof headerSummarySchema>

/** Longest result reason kept in the tx index (longer ones are cut: the index is not a log store). */
export const MAX_TX_LOG_CHARS = 256
/** Where a tx committed, its result code and, for a failure, its reason (`log`, absent in entries written before it was kept). */
export const txLocationSchema = s.struct({ height: s.uint(), index: s.uint(), code: s.text(64), log: s.optional(s.text(MAX_TX_LOG_CHARS)) })
export type TxLocation = Infer<typeof txLocationSchema>

export const signerStateSchema = s.struct({
  height: s.uint(),
  round: s.uint(),
  step: s.uint(255),
  signBytesHash: hash32,
  /** The signer's own record of what it signed (consensus's sign state with its lock), opaque here. */
  payload: s.optional(s.bytes(0, 1024))
})
export type SignerState = Infer<typeof signerStateSchema>

const LIMITS = { maxBytes: 4096, maxDepth: 4 }

export function encodeRecord<T> (schema: Schema<T>, value: T, what: string): Uint8Array {
  try {
    return encode(schema.check(value, ''))
  } catch (err) {
    throw new StorageError('STORE_BAD_INPUT', `invalid ${what}: ${(err as Error).message}`, value, { cause: err })
  }
}

export function decodeRecord<T> (schema: Schema<T>, bytes: Uint8Array, what: string, code: StorageErrorCode = 'STORE_CORRUPT'): T {
  try {
    return schema.check(decode(bytes, LIMITS), '')
  } catch (err) {
    throw new StorageError(code, `stored ${what} does not decode: ${(err as Error).message}`, bytes, { cause: err })
  }
}
