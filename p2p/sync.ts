// Block sync request/response. One stream per request: a request frame, then item frames,
// then END (or ERROR). Both sides bound counts, bytes and time.
import type { Stream } from '@libp2p/interface'
import { CodecError } from '../codec/index.js'
import { P2PError } from './errors.js'
import { encodeFrame, encodeFrames, FrameReader, readOneFrame } from './framing.js'
import {
  decodeSyncError, decodeSyncRequest, encodeSyncRequest, SYNC_END, SYNC_END_FRAME, SYNC_ERROR, SYNC_ITEM,
  syncErrorFrame, syncItemFrame, type SyncRequest
} from './messages.js'
import type { P2PCounters } from './metrics.js'

export interface SyncLimits {
  /** Most items one request may ask for (to - from + 1). */
  maxBlocksPerRequest: number
  /** Largest single item. */
  maxItemBytes: number
  /** Most item bytes in one response; the server stops early (the client asks again). */
  maxResponseBytes: number
  /** Whole-request deadline on the client; read deadline for the request on the server. */
  timeoutMs: number
}

export const DEFAULT_SYNC_LIMITS: SyncLimits = {
  maxBlocksPerRequest: 256,
  maxItemBytes: 8 * 1024 * 1024,
  maxResponseBytes: 32 * 1024 * 1024,
  timeoutMs: 15_000
}

export interface SyncResponse { blocks: Uint8Array[] }
export type SyncHandler = (req: SyncRequest) => Promise<SyncResponse>

const REQUEST_FRAME_MAX = 256
/** Items are sent in batches of this many bytes per send(). */
const SEND_BATCH_BYTES = 1024 * 1024

async function sendAll (stream: Stream, data: Uint8Array): Promise<void> {
  if (!stream.send(data)) await stream.onDrain()
}

/** Server side: answers one request with items from the handler. Never throws. */
export async function serveSyncStream (
  stream: Stream, handler: SyncHandler, limits: SyncLimits, counters: P2PCounters
): Promise<void> {
  let request: SyncRequest
  try {
    const frame = await readOneFrame(stream, REQUEST_FRAME_MAX, AbortSignal.timeout(limits.timeoutMs))
    if (frame == null) { counters.drop('bad_sync_request'); stream.abort(new Error('empty sync request')); return }
    request = decodeSyncRequest(frame)
  } catch (err) {
    counters.drop(err instanceof P2PError && err.code === 'P2P_TOO_LARGE' ? 'frame_too_large' : 'bad_sync_request')
    const code = err instanceof CodecError || err instanceof P2PError ? err.code : 'P2P_SYNC_BAD_REQUEST'
    await replyError(stream, code, (err as Error).message)
    return
  }
  if (request.to < request.from || request.to - request.from + 1 > limits.maxBlocksPerRequest) {
    counters.drop('bad_sync_request')
    await replyError(stream, 'P2P_SYNC_BAD_REQUEST', `range [${request.from}, ${request.to}] is empty or over ${limits.maxBlocksPerRequest} items`)
    return
  }
  let items: Uint8Array[]
  let timer: NodeJS.Timeout | undefined
  try {
    // the handler gets the same deadline as the client: nobody waits for an answer after it
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`no items within ${limits.timeoutMs} ms`)) }, limits.timeoutMs)
    })
    items = (await Promise.race([handler(request), deadline])).blocks
  } catch (err) {
    counters.drop('sync_handler_error')
    await replyError(stream, 'P2P_SYNC_FAILED', (err as Error).message ?? 'handler failed')
    return
  } finally {
    clearTimeout(timer)
  }
  try {
    const maxItems = request.to - request.from + 1
    let batch: Uint8Array[] = []
    let batchBytes = 0
    let total = 0
    for (let i = 0; i < items.length && i < maxItems; i++) {
      const item = items[i]
      if (item.length > limits.maxItemBytes) {
        if (i === 0) {
          await replyError(stream, 'P2P_SYNC_TOO_LARGE', `item of ${item.length} bytes over ${limits.maxItemBytes}`)
          return
        }
        break
      }
      if (total + item.length > limits.maxResponseBytes && i > 0) break
      total += item.length
      batch.push(syncItemFrame(item))
      batchBytes += item.length
      counters.sent('sync', item.length)
      if (batchBytes >= SEND_BATCH_BYTES) {
        await sendAll(stream, encodeFrames(batch))
        batch = []
        batchBytes = 0
      }
    }
    batch.push(SYNC_END_FRAME)
    await sendAll(stream, encodeFrames(batch))
    await stream.close()
  } catch {
    counters.drop('stream_error')
    stream.abort(new Error('sync response failed'))
  }
}

async function replyError (stream: Stream, code: string, message: string): Promise<void> {
  try {
    await sendAll(stream, encodeFrame(syncErrorFrame(code, message)))
    await stream.close()
  } catch {
    stream.abort(new Error('sync error reply failed'))
  }
}

/** Client side: sends the request on an open stream and collects the items. */
export async function requestOverStream (
  stream: Stream, request: SyncRequest, limits: SyncLimits, signal: AbortSignal, counters: P2PCounters
): Promise<Uint8Array[]> {
  const maxItems = request.to - request.from + 1
  const reader = new FrameReader({ maxFrameBytes: limits.maxItemBytes + 1, maxBufferBytes: 16 * 1024 * 1024 })
  const items: Uint8Array[] = []
  let total = 0
  const onAbort = (): void => { stream.abort(new P2PError('P2P_SYNC_TIMEOUT', 'sync timed out')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    await sendAll(stream, encodeFrame(encodeSyncRequest(request)))
    for await (const chunk of stream) {
      for (const frame of reader.push(chunk)) {
        const tag = frame[0]
        if (tag === SYNC_ITEM) {
          const item = frame.subarray(1)
          total += item.length
          if (items.length >= maxItems) throw new P2PError('P2P_SYNC_BAD_RESPONSE', `more than the ${maxItems} items asked for`, items.length + 1)
          if (total > limits.maxResponseBytes) throw new P2PError('P2P_SYNC_TOO_LARGE', `response over ${limits.maxResponseBytes} bytes`, total)
          items.push(item)
          counters.received('sync', item.length)
        } else if (tag === SYNC_END) {
          await stream.close().catch(() => {})
          return items
        } else if (tag === SYNC_ERROR) {
          let body
          try { body = decodeSyncError(frame.subarray(1)) } catch {
            throw new P2PError('P2P_SYNC_BAD_RESPONSE', 'undecodable error frame', frame.length)
          }
          throw new P2PError('P2P_SYNC_REMOTE_ERROR', `${body.code}: ${body.message}`, body.code)
        } else {
          throw new P2PError('P2P_SYNC_BAD_RESPONSE', 'unknown frame tag', tag)
        }
      }
    }
    throw new P2PError('P2P_SYNC_BAD_RESPONSE', 'response ended without END frame', items.length)
  } catch (err) {
    stream.abort(err as Error)
    if (signal.aborted) throw new P2PError('P2P_SYNC_TIMEOUT', `no complete response within ${limits.timeoutMs} ms`, request)
    if (err instanceof P2PError) {
      if (err.code === 'P2P_TOO_LARGE') throw new P2PError('P2P_SYNC_TOO_LARGE', err.message, err.value)
      throw err
    }
    throw new P2PError('P2P_SYNC_FAILED', (err as Error).message, request)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
