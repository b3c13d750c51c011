// Wire messages of the status and sync protocols: canonical CBOR under closed schemas, so
// garbage is rejected at the boundary with a CodecError.
import { decode, encode, s, type Infer } from '../codec/index.js'

const MAX_HEIGHT = Number.MAX_SAFE_INTEGER
/** Small: status and sync requests are a few dozen bytes. */
export const CONTROL_DECODE_LIMITS = { maxBytes: 1024, maxDepth: 4 }

export const statusSchema = s.struct({
  chainId: s.text(64),
  genesisHash: s.bytes(32),
  height: s.uint(MAX_HEIGHT)
})
export type StatusMessage = Infer<typeof statusSchema>

export function encodeStatus (status: StatusMessage): Uint8Array {
  return encode(status)
}

export function decodeStatus (bytes: Uint8Array): StatusMessage {
  return statusSchema.check(decode(bytes, CONTROL_DECODE_LIMITS), '')
}

export const syncRequestSchema = s.struct({
  from: s.uint(MAX_HEIGHT),
  to: s.uint(MAX_HEIGHT)
})
export type SyncRequest = Infer<typeof syncRequestSchema>

export function encodeSyncRequest (req: SyncRequest): Uint8Array {
  return encode(req)
}

export function decodeSyncRequest (bytes: Uint8Array): SyncRequest {
  return syncRequestSchema.check(decode(bytes, CONTROL_DECODE_LIMITS), '')
}

// A sync response is a sequence of frames whose first byte says what follows:
// ITEM (opaque item bytes), END (no more items), ERROR (CBOR {code, message}).
export const SYNC_ITEM = 0
export const SYNC_END = 1
export const SYNC_ERROR = 2

export const syncErrorSchema = s.struct({
  code: s.text(64),
  message: s.text(512)
})
export type SyncErrorBody = Infer<typeof syncErrorSchema>

export function syncItemFrame (item: Uint8Array): Uint8Array {
  const out = new Uint8Array(item.length + 1)
  out[0] = SYNC_ITEM
  out.set(item, 1)
  return out
}

export const SYNC_END_FRAME = Uint8Array.of(SYNC_END)

export function syncErrorFrame (code: string, message: string): Uint8Array {
  const body = encode({ code: code.slice(0, 64), message: message.slice(0, 512) })
  const out = new Uint8Array(body.length + 1)
  out[0] = SYNC_ERROR
  out.set(body, 1)
  return out
}

export function decodeSyncError (payload: Uint8Array): SyncErrorBody {
  return syncErrorSchema.check(decode(payload, CONTROL_DECODE_LIMITS), '')
}
