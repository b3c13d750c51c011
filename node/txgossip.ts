import { decode, encode, CodecError } from '../codec/index.js'

/**
 * Batches transactions for gossip: one gossip message carries many transactions, since
 * per-message overhead, not bytes, bounds gossipsub on this hardware (P2P-NOTES).
 */
export class TxBatcher {
  private items: Uint8Array[] = []
  private bytes = 0
  private timer: NodeJS.Timeout | null = null

  constructor (private readonly publish: (batch: Uint8Array) => void, private readonly opts: { maxItems: number, maxBytes: number, flushMs: number }) {}

  add (tx: Uint8Array): void {
    if (this.bytes + tx.length > this.opts.maxBytes) this.flush()
    this.items.push(tx)
    this.bytes += tx.length
    if (this.items.length >= this.opts.maxItems) this.flush()
    else if (this.timer === null) this.timer = setTimeout(() => this.flush(), this.opts.flushMs)
  }

  flush (): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    if (this.items.length === 0) return
    const batch = encode(this.items)
    this.items = []
    this.bytes = 0
    this.publish(batch)
  }

  stop (): void { if (this.timer !== null) clearTimeout(this.timer); this.timer = null; this.items = [] }
}

/** Decodes a gossiped batch: a canonical CBOR array of byte strings, bounded. */
export function decodeTxBatch (bytes: Uint8Array, maxBytes: number, maxItems: number): Uint8Array[] {
  const value = decode(bytes, { maxBytes, maxDepth: 2 })
  if (!Array.isArray(value) || value.length > maxItems || !value.every(v => v instanceof Uint8Array)) {
    throw new CodecError('CODEC_WRONG_TYPE', `expected an array of at most ${maxItems} byte strings`)
  }
  return value as Uint8Array[]
}
