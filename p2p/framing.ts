// Length-prefixed frames (unsigned varint length, then bytes), the wire format of every
// medchain stream. Writers batch many frames into one send(): each send() costs ~25-30 µs.
import { LengthPrefixedDecoder } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { P2PError } from './errors.js'

/** A chunk as streams deliver it (Uint8Array or libp2p's Uint8ArrayList). */
export type Chunk = Parameters<LengthPrefixedDecoder['decode']>[0]

export function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

function writeVarint (n: number, out: Uint8Array, offset: number): number {
  while (n >= 0x80) {
    out[offset++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  out[offset++] = n
  return offset
}

/** One frame: varint(length) ‖ payload. */
export function encodeFrame (payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(payload.length) + payload.length)
  const at = writeVarint(payload.length, out, 0)
  out.set(payload, at)
  return out
}

/** Many frames in one buffer, for a single send(). */
export function encodeFrames (payloads: readonly Uint8Array[]): Uint8Array {
  let total = 0
  for (const p of payloads) total += varintLength(p.length) + p.length
  const out = new Uint8Array(total)
  let at = 0
  for (const p of payloads) {
    at = writeVarint(p.length, out, at)
    out.set(p, at)
    at += p.length
  }
  return out
}

export interface FrameReaderLimits {
  /** Largest accepted frame payload; a larger length prefix is an error. */
  maxFrameBytes: number
  /** Largest amount of undecoded bytes held; a fast sender may hand over many MB per chunk. */
  maxBufferBytes: number
}

/** Incremental decoder: feed it chunks, get whole frames (copied out of the chunk list). */
export class FrameReader {
  private readonly decoder: LengthPrefixedDecoder
  private readonly maxFrameBytes: number

  constructor (limits: FrameReaderLimits) {
    this.maxFrameBytes = limits.maxFrameBytes
    this.decoder = new LengthPrefixedDecoder({
      maxDataLength: limits.maxFrameBytes,
      maxBufferSize: Math.max(limits.maxBufferBytes, limits.maxFrameBytes + 16)
    })
  }

  /** Throws P2PError P2P_TOO_LARGE on an oversize frame or buffer. */
  * push (chunk: Chunk): Generator<Uint8Array> {
    const frames = this.decoder.decode(chunk)
    while (true) {
      let next: IteratorResult<{ subarray: () => Uint8Array }>
      try {
        next = frames.next()
      } catch (err) {
        throw new P2PError('P2P_TOO_LARGE', `frame over the limit: ${(err as Error).message}`, this.maxFrameBytes)
      }
      if (next.done === true) return
      yield next.value.subarray()
    }
  }
}

/** Reads one frame from a stream within the deadline; aborts the stream when it passes. */
export async function readOneFrame (stream: Stream, maxFrameBytes: number, signal: AbortSignal): Promise<Uint8Array | undefined> {
  const reader = new FrameReader({ maxFrameBytes, maxBufferBytes: maxFrameBytes + 16 })
  const onAbort = (): void => { stream.abort(new P2PError('P2P_TIMEOUT', 'no frame before the deadline')) }
  if (signal.aborted) onAbort()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of stream) {
      for (const frame of reader.push(chunk)) return frame
    }
    return undefined
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
