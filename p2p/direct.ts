// Persistent one-way streams between validators for consensus messages (and tx batches). The validator set
// is small and fully meshed, so point-to-point beats gossipsub: frames queued in the same
// tick leave in one send() (one yamux frame + one Noise seal), which is where the time goes.
import type { Stream } from '@libp2p/interface'
import { encodeFrames, FrameReader } from './framing.js'
import type { P2PCounters } from './metrics.js'
import { P2PError } from './errors.js'

/** What a direct stream carries; each channel has its own stream, so a big tx batch never delays a vote behind it on the same stream. */
export type Channel = 'consensus' | 'tx'

export interface DirectLinkLimits {
  /** Bytes queued for one peer before new messages are dropped (a stalled peer must not eat memory). */
  maxQueuedBytes: number
  maxFrameBytes: number
}

/**
 * The sending half of one peer's direct stream. Messages queue while the stream opens;
 * everything queued in one tick leaves in one send().
 */
export class DirectLink {
  private stream?: Stream
  private queue: Uint8Array[] = []
  private queuedBytes = 0
  private flushScheduled = false
  private waitingDrain = false
  closed = false

  constructor (
    private readonly channel: Channel,
    private readonly limits: DirectLinkLimits,
    private readonly counters: P2PCounters
  ) {}

  attach (stream: Stream): void {
    if (this.closed) { stream.abort(new Error('direct link closed')); return }
    this.stream = stream
    stream.addEventListener('close', () => { this.fail() })
    this.scheduleFlush()
  }

  /** The stream could not be opened or died: drop what is queued (counted). */
  fail (): void {
    if (this.closed) return
    this.closed = true
    for (let i = 0; i < this.queue.length; i++) this.counters.drop('no_direct_stream')
    this.queue = []
    this.queuedBytes = 0
  }

  /** Queues one message; returns false if it was dropped. */
  enqueue (payload: Uint8Array): boolean {
    if (this.closed) return false
    if (payload.length > this.limits.maxFrameBytes) return false
    if (this.queuedBytes + payload.length > this.limits.maxQueuedBytes) {
      this.counters.drop('direct_queue_full')
      return false
    }
    this.queue.push(payload)
    this.queuedBytes += payload.length
    this.counters.sent(this.channel, payload.length)
    this.scheduleFlush()
    return true
  }

  private scheduleFlush (): void {
    if (this.flushScheduled || this.waitingDrain || this.stream == null || this.queue.length === 0) return
    this.flushScheduled = true
    setImmediate(this.flush)
  }

  private readonly flush = (): void => {
    this.flushScheduled = false
    const stream = this.stream
    if (this.closed || stream == null || this.queue.length === 0) return
    const batch = encodeFrames(this.queue)
    this.queue = []
    this.queuedBytes = 0
    let ready: boolean
    try {
      ready = stream.send(batch)
    } catch {
      this.fail()
      return
    }
    if (!ready) {
      this.waitingDrain = true
      stream.onDrain().then(() => {
        this.waitingDrain = false
        this.scheduleFlush()
      }, () => { this.fail() })
    }
  }

  close (): void {
    this.fail()
    this.stream?.abort(new Error('direct link closed'))
  }
}

/** Reads frames from an inbound direct stream until it ends; oversize frames reset it. */
export async function readDirectStream (
  stream: Stream,
  maxFrameBytes: number,
  onFrame: (payload: Uint8Array) => void,
  counters: P2PCounters
): Promise<void> {
  const reader = new FrameReader({ maxFrameBytes, maxBufferBytes: 16 * 1024 * 1024 })
  try {
    for await (const chunk of stream) {
      for (const frame of reader.push(chunk)) onFrame(frame)
    }
  } catch (err) {
    if (err instanceof P2PError && err.code === 'P2P_TOO_LARGE') {
      counters.drop('frame_too_large')
      stream.abort(err as Error)
    } else {
      counters.drop('stream_error')
    }
  }
}
