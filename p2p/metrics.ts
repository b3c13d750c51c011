// The p2p layer counts into its own plain object (no global state) and mirrors every count
// into an optional sink that node/metrics.ts can back with prom-client.

/** What a message was: tx batch, consensus message, sync item, status exchange. */
export type MessageKind = 'tx' | 'consensus' | 'sync' | 'status'

/** Why input was dropped or refused; stable strings, one metric label each. */
export type DropReason =
  | 'not_member'              // connection from a key outside the allow-list (gater)
  | 'genesis_mismatch'        // peer advertised another genesis hash
  | 'chain_mismatch'          // peer advertised another chain id
  | 'unverified_peer'         // message from a member whose status is not yet verified
  | 'frame_too_large'         // a length prefix over the protocol's limit
  | 'bad_status'              // undecodable status message
  | 'bad_sync_request'        // undecodable or out-of-bounds sync request
  | 'sync_handler_error'      // handlers.onSyncRequest threw
  | 'duplicate_publish'       // identical bytes published twice on a gossip topic
  | 'direct_queue_full'       // a peer's outbound consensus queue hit its byte bound
  | 'no_direct_stream'        // consensus message for a peer with no open direct stream
  | 'handler_error'           // a message handler threw
  | 'stream_error'            // a stream died mid-read

export interface P2PMetrics {
  messagesIn?(kind: MessageKind, bytes: number): void
  messagesOut?(kind: MessageKind, bytes: number): void
  dropped?(reason: DropReason): void
  peersConnected?(count: number): void
}

/** Plain counters, readable by tests and the node's status page. */
export class P2PCounters {
  readonly in: Record<MessageKind, number> = { tx: 0, consensus: 0, sync: 0, status: 0 }
  readonly out: Record<MessageKind, number> = { tx: 0, consensus: 0, sync: 0, status: 0 }
  readonly dropped: Partial<Record<DropReason, number>> = {}

  constructor (private readonly sink?: P2PMetrics) {}

  received (kind: MessageKind, bytes: number): void {
    this.in[kind]++
    this.sink?.messagesIn?.(kind, bytes)
  }

  sent (kind: MessageKind, bytes: number): void {
    this.out[kind]++
    this.sink?.messagesOut?.(kind, bytes)
  }

  drop (reason: DropReason): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1
    this.sink?.dropped?.(reason)
  }

  peers (count: number): void {
    this.sink?.peersConnected?.(count)
  }

  snapshot (): { in: Record<MessageKind, number>, out: Record<MessageKind, number>, dropped: Partial<Record<DropReason, number>> } {
    return { in: { ...this.in }, out: { ...this.out }, dropped: { ...this.dropped } }
  }
}
