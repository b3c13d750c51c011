// The libp2p host of one validator: member-only connections, gossip of tx batches,
// direct streams for consensus, a status handshake that refuses a foreign genesis, block
// sync, and a redial loop that keeps every member connected.
import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { gossipsub, StrictNoSign, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { type Connection, type PeerId, type Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import { bytesEqual, toHex } from '../codec/index.js'
import { sha256 } from '../crypto/index.js'
import { DirectLink, readDirectStream, type Channel } from './direct.js'
import { P2PError } from './errors.js'
import { encodeFrame, readOneFrame } from './framing.js'
import { MemberSet, type Member, type MemberConfig, type PeerRef } from './members.js'
import { decodeStatus, encodeStatus, type StatusMessage, type SyncRequest } from './messages.js'
import { P2PCounters, type P2PMetrics } from './metrics.js'
import { chainProtocols, isValidChainId, type ChainProtocols } from './names.js'
import { DEFAULT_SYNC_LIMITS, requestOverStream, serveSyncStream, type SyncLimits, type SyncResponse } from './sync.js'

export type PeerStatusEvent =
  | { kind: 'connected', peer: PeerRef, height: number }
  | { kind: 'status', peer: PeerRef, height: number }
  | { kind: 'disconnected', peer: PeerRef }
  | { kind: 'genesis-mismatch', peer: PeerRef, theirGenesisHash: string, ourGenesisHash: string }
  | { kind: 'chain-mismatch', peer: PeerRef, theirChainId: string, ourChainId: string }

export interface P2PHandlers {
  /** A gossiped tx batch; `from` is the member that relayed it (not necessarily its author). */
  onTxBatch (bytes: Uint8Array, from: PeerRef): void
  onConsensusMessage (bytes: Uint8Array, from: PeerRef): void
  /** Serve opaque items (blocks) for heights from..to; may return fewer (never more). */
  onSyncRequest (req: SyncRequest, from: PeerRef): Promise<SyncResponse>
  onPeerStatus? (event: PeerStatusEvent): void
}

export type P2PLogLevel = 'debug' | 'info' | 'warn' | 'error'
export type P2PLog = (level: P2PLogLevel, message: string, fields?: Record<string, unknown>) => void

export interface P2PLimits {
  /** Largest tx batch, on gossip (gossipsub maxInboundDataLength) and direct streams; keep well under 4 MiB. */
  maxTxBatchBytes: number
  /** Largest consensus message (direct streams; gossip fallback is capped by maxTxBatchBytes). */
  maxConsensusBytes: number
  /** Bytes queued per peer on its direct consensus stream before messages are dropped. */
  maxDirectQueueBytes: number
  sync: SyncLimits
}

export interface P2PTiming {
  /** How often heights are re-exchanged with every connected member. */
  statusIntervalMs: number
  statusTimeoutMs: number
  /** Redial loop tick; each member is redialled with exponential backoff. */
  redialTickMs: number
  redialMinBackoffMs: number
  redialMaxBackoffMs: number
  dialTimeoutMs: number
  /** How long before redialling a member refused for another genesis or chain id. */
  mismatchRetryMs: number
}

export interface P2PHostOptions {
  /** The validator's ed25519 seed: the PeerId is derived from it, stable across restarts. */
  seed: Uint8Array
  listen: { host: string, port: number }
  chainId: string
  genesisHash: Uint8Array
  /** The allow-list (from genesis); may include this validator itself. */
  members: MemberConfig[]
  handlers: P2PHandlers
  /** 'direct' (default): persistent streams to each member; 'gossip': the consensus topic. */
  consensusTransport?: 'direct' | 'gossip'
  /** Extra IP multiaddrs exempt from the inbound connection rate limit (member IPs always are). */
  allowAddresses?: string[]
  limits?: Partial<Omit<P2PLimits, 'sync'>> & { sync?: Partial<SyncLimits> }
  timing?: Partial<P2PTiming>
  metrics?: P2PMetrics
  log?: P2PLog
}

export interface PeerHeight extends PeerRef { height: number }

export interface P2PHost {
  readonly peerId: string
  /** Listening addresses including /p2p/<id>, e.g. to give to other members. */
  multiaddrs (): string[]
  publishTxBatch (bytes: Uint8Array): Promise<number>
  /** Publishes on the consensus gossip topic (the fallback transport). */
  publishConsensus (bytes: Uint8Array): Promise<number>
  /** Sends to every verified member by the configured transport; returns how many peers it was queued for. */
  broadcastConsensus (bytes: Uint8Array): number
  /** Sends a tx batch to every verified member over direct streams (no relaying: validators are fully meshed). */
  broadcastTxBatch (bytes: Uint8Array): number
  /** Sends to one member over its direct stream; false if it is not connected. */
  sendConsensus (peerId: string, bytes: Uint8Array): boolean
  /** Sends a tx batch to one member over its direct stream; false if it is not connected or the queue is full. */
  sendTxBatch (peerId: string, bytes: Uint8Array): boolean
  requestBlocks (peerId: string, from: number, to: number, options?: { timeoutMs?: number }): Promise<Uint8Array[]>
  setLocalHeight (height: number): void
  peerHeights (): PeerHeight[]
  /** Re-exchanges status with every connected member now. */
  refreshStatus (): Promise<void>
  /** Members that are connected and whose status (genesis) has been verified. */
  connectedMembers (): PeerRef[]
  /** Sets or changes where a member listens (it is then redialled). */
  setMemberAddress (publicKey: Uint8Array, multiaddr: string): void
  counters (): ReturnType<P2PCounters['snapshot']>
  /** The underlying libp2p node, for diagnostics and tests. */
  readonly libp2p: Libp2p<{ identify: unknown, pubsub: GossipSub }>
  stop (): Promise<void>
}

const MEMBER_TAG = 'medchain-member'

const DEFAULT_TIMING: P2PTiming = {
  statusIntervalMs: 5_000,
  statusTimeoutMs: 5_000,
  redialTickMs: 250,
  redialMinBackoffMs: 250,
  redialMaxBackoffMs: 10_000,
  dialTimeoutMs: 5_000,
  mismatchRetryMs: 60_000
}

interface PeerState {
  member: Member
  verified: boolean
  height: number
  /** Resolved when the peer's status is verified (true) or it is refused/disconnected (false). */
  waiters: Array<(ok: boolean) => void>
  links: Partial<Record<Channel, DirectLink>>
}

interface DialState { backoffMs: number, nextAt: number, dialing: boolean }

export async function createP2PHost (options: P2PHostOptions): Promise<P2PHost> {
  if (!(options.seed instanceof Uint8Array) || options.seed.length !== 32) throw new P2PError('P2P_BAD_OPTIONS', 'seed must be 32 bytes', options.seed?.length)
  if (!isValidChainId(options.chainId)) throw new P2PError('P2P_BAD_OPTIONS', 'bad chain id', options.chainId)
  if (!(options.genesisHash instanceof Uint8Array) || options.genesisHash.length !== 32) throw new P2PError('P2P_BAD_OPTIONS', 'genesisHash must be 32 bytes', options.genesisHash)
  const host = new Host(options)
  await host.start()
  return host
}

function ipAllowEntry (address: string): string | undefined {
  const m = /^\/(ip4|ip6)\/([^/]+)/.exec(address)
  return m == null ? undefined : `/${m[1]}/${m[2]}`
}

class Host implements P2PHost {
  readonly peerId: string
  libp2p!: Libp2p<{ identify: unknown, pubsub: GossipSub }>
  private readonly opts: P2PHostOptions
  private readonly names: ChainProtocols
  private readonly members: MemberSet
  private readonly limits: P2PLimits
  private readonly timing: P2PTiming
  private readonly stats: P2PCounters
  private readonly log: P2PLog
  private readonly peers = new Map<string, PeerState>()
  private readonly dials = new Map<string, DialState>()
  /** Members refused for another genesis/chain: not redialled before this time (ms). */
  private readonly refusedUntil = new Map<string, number>()
  private readonly ourGenesisHex: string
  private localHeight = 0
  private stopped = false
  private redialTimer?: NodeJS.Timeout
  private statusTimer?: NodeJS.Timeout
  private selfId!: PeerId

  constructor (options: P2PHostOptions) {
    this.opts = options
    this.names = chainProtocols(options.chainId)
    this.members = new MemberSet(options.members)
    this.limits = {
      maxTxBatchBytes: options.limits?.maxTxBatchBytes ?? 1024 * 1024,
      maxConsensusBytes: options.limits?.maxConsensusBytes ?? 4 * 1024 * 1024,
      maxDirectQueueBytes: options.limits?.maxDirectQueueBytes ?? 64 * 1024 * 1024,
      sync: { ...DEFAULT_SYNC_LIMITS, ...options.limits?.sync }
    }
    if (this.limits.maxTxBatchBytes >= 4 * 1024 * 1024) throw new P2PError('P2P_BAD_OPTIONS', 'maxTxBatchBytes must stay under 4 MiB (gossipsub drops larger messages silently)', this.limits.maxTxBatchBytes)
    this.timing = { ...DEFAULT_TIMING, ...options.timing }
    this.stats = new P2PCounters(options.metrics)
    this.log = options.log ?? (() => {})
    this.ourGenesisHex = toHex(options.genesisHash)
    this.peerId = ''
  }

  async start (): Promise<void> {
    const privateKey = await generateKeyPairFromSeed('Ed25519', this.opts.seed)
    const members = this.members
    const stats = this.stats
    const isMember = (peer: PeerId): boolean => {
      if (members.has(peer)) return false
      stats.drop('not_member')
      this.log('warn', 'refused a connection from a non-member', { peerId: peer.toString() })
      return true
    }
    // Exempt members from the inbound rate limit (5/s per IP), or local clusters flake.
    const allow = new Set<string>()
    if (this.opts.listen.host === '127.0.0.1') allow.add('/ip4/127.0.0.1')
    if (this.opts.listen.host === '::1') allow.add('/ip6/::1')
    for (const m of members.list()) {
      const entry = m.address != null ? ipAllowEntry(m.address.toString()) : undefined
      if (entry != null) allow.add(entry)
    }
    for (const a of this.opts.allowAddresses ?? []) { const e = ipAllowEntry(a); if (e != null) allow.add(e) }
    const family = this.opts.listen.host.includes(':') ? 'ip6' : 'ip4'
    const maxGossip = this.limits.maxTxBatchBytes
    const msgId = (data: Uint8Array): Uint8Array => sha256(data)

    this.libp2p = await createLibp2p({
      privateKey,
      addresses: { listen: [`/${family}/${this.opts.listen.host}/tcp/${this.opts.listen.port}`] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        // The remote key is authenticated by Noise before the *EncryptedConnection hooks: the real check.
        denyDialPeer: (peer) => isMember(peer),
        denyInboundEncryptedConnection: (peer) => isMember(peer),
        denyOutboundEncryptedConnection: (peer) => isMember(peer),
        denyInboundRelayReservation: () => true,
        denyOutboundRelayedConnection: () => true,
        denyInboundRelayedConnection: () => true
      },
      connectionManager: {
        allow: [...allow],
        maxConnections: Math.max(32, members.list().length * 4),
        dialTimeout: this.timing.dialTimeoutMs
      },
      connectionMonitor: { pingTimeout: { minTimeout: 10_000, maxTimeout: 30_000 } },
      services: {
        identify: identify(),
        pubsub: gossipsub({
          globalSignaturePolicy: StrictNoSign,
          msgIdFn: (msg) => msgId(msg.data),
          fastMsgIdFn: (msg) => toHex(msgId(msg.data ?? new Uint8Array(0))),
          msgIdToStrFn: (id) => toHex(id),
          maxInboundDataLength: maxGossip,
          maxOutboundBufferSize: 64 * 1024 * 1024,
          allowedTopics: [this.names.txTopic, this.names.consensusTopic],
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: false,
          floodPublish: true,
          emitSelf: false,
          doPX: false,
          directPeers: []
        })
      }
    })
    this.selfId = this.libp2p.peerId
    ;(this as { peerId: string }).peerId = this.selfId.toString()

    const pubsub = this.libp2p.services.pubsub
    for (const topic of [this.names.txTopic, this.names.consensusTopic]) {
      pubsub.topicValidators.set(topic, (peer) => {
        if (this.peers.get(peer.toString())?.verified === true) return TopicValidatorResult.Accept
        this.stats.drop('unverified_peer')
        return TopicValidatorResult.Ignore
      })
      pubsub.subscribe(topic)
    }
    pubsub.addEventListener('gossipsub:message', (evt) => {
      const { msg, propagationSource } = evt.detail
      const state = this.peers.get(propagationSource.toString())
      if (state == null) return
      const kind = msg.topic === this.names.txTopic ? 'tx' : 'consensus'
      this.stats.received(kind, msg.data.length)
      try {
        if (kind === 'tx') this.opts.handlers.onTxBatch(msg.data, state.member)
        else this.opts.handlers.onConsensusMessage(msg.data, state.member)
      } catch (err) {
        this.stats.drop('handler_error')
        this.log('error', 'gossip handler threw', { error: String(err) })
      }
    })

    await this.libp2p.handle(this.names.status, (stream, conn) => { void this.serveStatus(stream, conn) }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    await this.libp2p.handle(this.names.sync, (stream, conn) => { void this.serveSync(stream, conn) }, { maxInboundStreams: 4, maxOutboundStreams: 8 })
    await this.libp2p.handle(this.names.consensusDirect, (stream, conn) => { void this.serveDirect('consensus', stream, conn) }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
    await this.libp2p.handle(this.names.txDirect, (stream, conn) => { void this.serveDirect('tx', stream, conn) }, { maxInboundStreams: 2, maxOutboundStreams: 2 })

    this.libp2p.addEventListener('peer:connect', (evt) => { this.onPeerConnect(evt.detail) })
    this.libp2p.addEventListener('peer:disconnect', (evt) => { this.onPeerDisconnect(evt.detail) })

    for (const m of this.members.list()) {
      if (m.id.equals(this.selfId)) continue
      await this.rememberMember(m)
    }
    this.redialTimer = setInterval(() => { this.redialTick() }, this.timing.redialTickMs)
    this.statusTimer = setInterval(() => { void this.refreshStatus() }, this.timing.statusIntervalMs)
    this.redialTick()
    this.log('info', 'p2p host started', { peerId: this.peerId, addresses: this.multiaddrs() })
  }

  private async rememberMember (m: Member): Promise<void> {
    // A high tag value keeps members out of the connection pruner's reach. Not KEEP_ALIVE:
    // the redial loop below owns reconnection (libp2p's reconnect queue gives up after 5 tries).
    await this.libp2p.peerStore.merge(m.id, { tags: { [MEMBER_TAG]: { value: 100 } } })
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(a => a.toString())
  }

  // ---- connections and status ----

  private onPeerConnect (peer: PeerId): void {
    const member = this.members.get(peer)
    if (member == null) { void this.libp2p.hangUp(peer).catch(() => {}); return }
    let state = this.peers.get(member.peerId)
    if (state == null) {
      state = { member, verified: false, height: 0, waiters: [], links: {} }
      this.peers.set(member.peerId, state)
    }
    const dial = this.dials.get(member.peerId)
    if (dial != null) dial.backoffMs = this.timing.redialMinBackoffMs
    void this.exchangeStatus(member)
  }

  private onPeerDisconnect (peer: PeerId): void {
    const state = this.peers.get(peer.toString())
    if (state == null) return
    this.peers.delete(peer.toString())
    for (const link of Object.values(state.links)) link.close()
    for (const w of state.waiters.splice(0)) w(false)
    this.stats.peers(this.connectedMembers().length)
    if (state.verified) {
      this.log('info', 'member disconnected', { peerId: state.member.peerId })
      this.emit({ kind: 'disconnected', peer: state.member })
    }
  }

  private ourStatus (): StatusMessage {
    return { chainId: this.opts.chainId, genesisHash: this.opts.genesisHash, height: this.localHeight }
  }

  /** Client side of the handshake: send ours, read theirs. */
  private async exchangeStatus (member: Member): Promise<void> {
    if (this.stopped) return
    let stream: Stream | undefined
    try {
      const signal = AbortSignal.timeout(this.timing.statusTimeoutMs)
      stream = await this.libp2p.dialProtocol(member.id, this.names.status, { signal })
      const payload = encodeStatus(this.ourStatus())
      stream.send(encodeFrame(payload))
      this.stats.sent('status', payload.length)
      const frame = await readOneFrame(stream, 256, signal)
      if (frame == null) throw new P2PError('P2P_STATUS_FAILED', 'status stream ended early', member.peerId)
      let status: StatusMessage
      try { status = decodeStatus(frame) } catch (err) {
        this.stats.drop('bad_status')
        throw err
      }
      this.stats.received('status', frame.length)
      await stream.close().catch(() => {})
      this.onStatus(member, status)
    } catch (err) {
      stream?.abort(err as Error)
      if (this.stopped) return
      const name = (err as Error).name
      if (name === 'UnsupportedProtocolError') {
        this.log('error', `peer ${member.peerId} does not speak ${this.names.status} (another chain id?); disconnecting`, { peerId: member.peerId })
        void this.libp2p.hangUp(member.id).catch(() => {})
      } else {
        this.log('debug', 'status exchange failed', { peerId: member.peerId, error: String(err) })
      }
    }
  }

  /** Server side of the handshake: read theirs, answer with ours. */
  private async serveStatus (stream: Stream, conn: Connection): Promise<void> {
    const member = this.members.get(conn.remotePeer)
    if (member == null) { stream.abort(new Error('not a member')); return }
    try {
      const frame = await readOneFrame(stream, 256, AbortSignal.timeout(this.timing.statusTimeoutMs))
      if (frame == null) { stream.abort(new Error('no status')); return }
      let status: StatusMessage
      try { status = decodeStatus(frame) } catch {
        this.stats.drop('bad_status')
        stream.abort(new Error('bad status'))
        return
      }
      this.stats.received('status', frame.length)
      const payload = encodeStatus(this.ourStatus())
      stream.send(encodeFrame(payload))
      this.stats.sent('status', payload.length)
      await stream.close().catch(() => {})
      this.onStatus(member, status)
    } catch (err) {
      if (err instanceof P2PError && err.code === 'P2P_TOO_LARGE') this.stats.drop('frame_too_large')
      stream.abort(err as Error)
    }
  }

  private onStatus (member: Member, status: StatusMessage): void {
    if (this.stopped) return
    if (status.chainId !== this.opts.chainId) {
      this.refuse(member, 'chain_mismatch', `chain id mismatch: peer ${member.peerId} is on chain "${status.chainId}", ours is "${this.opts.chainId}"; disconnecting`)
      this.emit({ kind: 'chain-mismatch', peer: member, theirChainId: status.chainId, ourChainId: this.opts.chainId })
      return
    }
    if (!bytesEqual(status.genesisHash, this.opts.genesisHash)) {
      const theirs = toHex(status.genesisHash)
      this.refuse(member, 'genesis_mismatch', `genesis mismatch: peer ${member.peerId} has genesis ${theirs}, ours is ${this.ourGenesisHex}; disconnecting`)
      this.emit({ kind: 'genesis-mismatch', peer: member, theirGenesisHash: theirs, ourGenesisHash: this.ourGenesisHex })
      return
    }
    const state = this.peers.get(member.peerId)
    if (state == null) return // disconnected meanwhile
    state.height = status.height
    if (!state.verified) {
      state.verified = true
      for (const w of state.waiters.splice(0)) w(true)
      this.stats.peers(this.connectedMembers().length)
      this.log('info', 'member connected', { peerId: member.peerId, height: status.height })
      this.emit({ kind: 'connected', peer: member, height: status.height })
      if (this.opts.consensusTransport !== 'gossip') this.openLink(state, 'consensus')
    } else {
      this.emit({ kind: 'status', peer: member, height: status.height })
    }
  }

  private refuse (member: Member, reason: 'genesis_mismatch' | 'chain_mismatch', message: string): void {
    this.stats.drop(reason)
    this.log('error', message, { peerId: member.peerId })
    this.refusedUntil.set(member.peerId, Date.now() + this.timing.mismatchRetryMs)
    const state = this.peers.get(member.peerId)
    if (state != null) { for (const w of state.waiters.splice(0)) w(false) }
    // Hang up a moment later, so the peer can read our status and log the reason itself.
    setTimeout(() => { void this.libp2p.hangUp(member.id).catch(() => {}) }, 1_000).unref()
  }

  private emit (event: PeerStatusEvent): void {
    try { this.opts.handlers.onPeerStatus?.(event) } catch (err) {
      this.stats.drop('handler_error')
      this.log('error', 'onPeerStatus threw', { error: String(err) })
    }
  }

  /** Waits until the peer's status is verified; false if refused, disconnected or timed out. */
  private async waitVerified (peerId: string): Promise<boolean> {
    const state = this.peers.get(peerId)
    if (state == null) return false
    if (state.verified) return true
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { resolve(false) }, this.timing.statusTimeoutMs)
      state.waiters.push((ok) => { clearTimeout(timer); resolve(ok) })
    })
  }

  setLocalHeight (height: number): void {
    if (!Number.isSafeInteger(height) || height < 0) throw new P2PError('P2P_BAD_OPTIONS', 'height must be a non-negative integer', height)
    this.localHeight = height
  }

  peerHeights (): PeerHeight[] {
    return [...this.peers.values()].filter(s => s.verified)
      .map(s => ({ peerId: s.member.peerId, publicKey: s.member.publicKey, height: s.height }))
      .sort((a, b) => a.peerId < b.peerId ? -1 : 1)
  }

  async refreshStatus (): Promise<void> {
    await Promise.all([...this.peers.values()].map(async s => { await this.exchangeStatus(s.member) }))
  }

  connectedMembers (): PeerRef[] {
    return [...this.peers.values()].filter(s => s.verified)
      .map(s => ({ peerId: s.member.peerId, publicKey: s.member.publicKey }))
      .sort((a, b) => a.peerId < b.peerId ? -1 : 1)
  }

  setMemberAddress (publicKey: Uint8Array, address: string): void {
    const member = this.members.setAddress(publicKey, address)
    if (member.id.equals(this.selfId)) return
    void this.rememberMember(member).catch(() => {})
    this.refusedUntil.delete(member.peerId)
    const dial = this.dials.get(member.peerId)
    if (dial != null) { dial.backoffMs = this.timing.redialMinBackoffMs; dial.nextAt = 0 }
  }

  // ---- redial ----

  private redialTick (): void {
    if (this.stopped) return
    const now = Date.now()
    for (const m of this.members.list()) {
      if (m.address == null || m.id.equals(this.selfId)) continue
      let dial = this.dials.get(m.peerId)
      if (dial == null) {
        dial = { backoffMs: this.timing.redialMinBackoffMs, nextAt: 0, dialing: false }
        this.dials.set(m.peerId, dial)
      }
      if (dial.dialing || now < dial.nextAt || now < (this.refusedUntil.get(m.peerId) ?? 0)) continue
      if (this.libp2p.getConnections(m.id).length > 0) continue
      const address = m.address
      const state = dial
      state.dialing = true
      this.libp2p.dial(address, { signal: AbortSignal.timeout(this.timing.dialTimeoutMs) }).then(() => {
        state.dialing = false
        state.nextAt = Date.now() + state.backoffMs
      }, (err: Error) => {
        state.dialing = false
        // jittered exponential backoff, so restarted members are not hammered in lockstep
        state.backoffMs = Math.min(this.timing.redialMaxBackoffMs, state.backoffMs * 2)
        state.nextAt = Date.now() + state.backoffMs * (0.75 + Math.random() * 0.5)
        this.log('debug', 'dial failed', { peerId: m.peerId, error: err.message, retryInMs: state.backoffMs })
      })
    }
  }

  // ---- gossip ----

  async publishTxBatch (bytes: Uint8Array): Promise<number> {
    return await this.publish('tx', this.names.txTopic, bytes)
  }

  async publishConsensus (bytes: Uint8Array): Promise<number> {
    return await this.publish('consensus', this.names.consensusTopic, bytes)
  }

  private async publish (kind: 'tx' | 'consensus', topic: string, bytes: Uint8Array): Promise<number> {
    if (this.stopped) throw new P2PError('P2P_STOPPED', 'host is stopped')
    if (bytes.length > this.limits.maxTxBatchBytes) throw new P2PError('P2P_TOO_LARGE', `gossip message over ${this.limits.maxTxBatchBytes} bytes`, bytes.length)
    try {
      const result = await this.libp2p.services.pubsub.publish(topic, bytes)
      this.stats.sent(kind, bytes.length)
      return result.recipients.length
    } catch (err) {
      if ((err as Error).message === 'PublishError.Duplicate') {
        this.stats.drop('duplicate_publish')
        return 0
      }
      throw err
    }
  }

  // ---- direct streams (consensus, and tx batches between validators) ----

  broadcastConsensus (bytes: Uint8Array): number {
    this.checkDirect('consensus', bytes)
    if (this.opts.consensusTransport === 'gossip') {
      void this.publishConsensus(bytes).catch((err) => { this.log('warn', 'consensus publish failed', { error: String(err) }) })
      return this.connectedMembers().length
    }
    return this.broadcastDirect('consensus', bytes)
  }

  sendConsensus (peerId: string, bytes: Uint8Array): boolean {
    this.checkDirect('consensus', bytes)
    const state = this.peers.get(peerId)
    if (state == null || !state.verified) return false
    return this.enqueueDirect(state, 'consensus', bytes)
  }

  sendTxBatch (peerId: string, bytes: Uint8Array): boolean {
    this.checkDirect('tx', bytes)
    const state = this.peers.get(peerId)
    if (state == null || !state.verified) return false
    return this.enqueueDirect(state, 'tx', bytes)
  }

  broadcastTxBatch (bytes: Uint8Array): number {
    this.checkDirect('tx', bytes)
    return this.broadcastDirect('tx', bytes)
  }

  private checkDirect (channel: Channel, bytes: Uint8Array): void {
    if (this.stopped) throw new P2PError('P2P_STOPPED', 'host is stopped')
    const max = channel === 'consensus' ? this.limits.maxConsensusBytes : this.limits.maxTxBatchBytes
    if (bytes.length > max) throw new P2PError('P2P_TOO_LARGE', `${channel} message over ${max} bytes`, bytes.length)
  }

  private broadcastDirect (channel: Channel, bytes: Uint8Array): number {
    let queued = 0
    for (const state of this.peers.values()) {
      if (state.verified && this.enqueueDirect(state, channel, bytes)) queued++
    }
    return queued
  }

  private enqueueDirect (state: PeerState, channel: Channel, bytes: Uint8Array): boolean {
    let link = state.links[channel]
    if (link == null || link.closed) link = this.openLink(state, channel)
    return link.enqueue(bytes)
  }

  private openLink (state: PeerState, channel: Channel): DirectLink {
    const existing = state.links[channel]
    if (existing != null && !existing.closed) return existing
    const maxFrameBytes = channel === 'consensus' ? this.limits.maxConsensusBytes : this.limits.maxTxBatchBytes
    const link = new DirectLink(channel, { maxQueuedBytes: this.limits.maxDirectQueueBytes, maxFrameBytes }, this.stats)
    state.links[channel] = link
    const protocol = channel === 'consensus' ? this.names.consensusDirect : this.names.txDirect
    this.libp2p.dialProtocol(state.member.id, protocol, { signal: AbortSignal.timeout(this.timing.statusTimeoutMs) })
      .then((stream) => {
        if (this.stopped || state.links[channel] !== link) { stream.abort(new Error('superseded')); return }
        link.attach(stream)
      }, (err: Error) => {
        link.fail()
        this.log('debug', 'direct stream open failed', { peerId: state.member.peerId, channel, error: err.message })
      })
    return link
  }

  private async serveDirect (channel: Channel, stream: Stream, conn: Connection): Promise<void> {
    const peerId = conn.remotePeer.toString()
    const member = this.members.get(peerId)
    if (member == null || !(await this.waitVerified(peerId))) {
      this.stats.drop('unverified_peer')
      stream.abort(new Error('peer not verified'))
      return
    }
    const maxFrameBytes = channel === 'consensus' ? this.limits.maxConsensusBytes : this.limits.maxTxBatchBytes
    const deliver = channel === 'consensus' ? this.opts.handlers.onConsensusMessage : this.opts.handlers.onTxBatch
    await readDirectStream(stream, maxFrameBytes, (payload) => {
      this.stats.received(channel, payload.length)
      try { deliver(payload, member) } catch (err) {
        this.stats.drop('handler_error')
        this.log('error', `${channel} handler threw`, { error: String(err) })
      }
    }, this.stats)
  }

  // ---- sync ----

  async requestBlocks (peerId: string, from: number, to: number, options?: { timeoutMs?: number }): Promise<Uint8Array[]> {
    if (this.stopped) throw new P2PError('P2P_STOPPED', 'host is stopped')
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from) {
      throw new P2PError('P2P_SYNC_BAD_REQUEST', 'need 0 <= from <= to', { from, to })
    }
    if (to - from + 1 > this.limits.sync.maxBlocksPerRequest) {
      throw new P2PError('P2P_SYNC_BAD_REQUEST', `at most ${this.limits.sync.maxBlocksPerRequest} blocks per request`, { from, to })
    }
    const state = this.peers.get(peerId)
    if (state == null || !state.verified) throw new P2PError('P2P_NOT_CONNECTED', 'peer is not a connected, verified member', peerId)
    const timeoutMs = options?.timeoutMs ?? this.limits.sync.timeoutMs
    const signal = AbortSignal.timeout(timeoutMs)
    let stream: Stream
    try {
      stream = await this.libp2p.dialProtocol(state.member.id, this.names.sync, { signal })
    } catch (err) {
      if (signal.aborted) throw new P2PError('P2P_SYNC_TIMEOUT', `could not open a sync stream within ${timeoutMs} ms`, peerId)
      throw new P2PError('P2P_SYNC_FAILED', (err as Error).message, peerId)
    }
    return await requestOverStream(stream, { from, to }, { ...this.limits.sync, timeoutMs }, signal, this.stats)
  }

  private async serveSync (stream: Stream, conn: Connection): Promise<void> {
    const peerId = conn.remotePeer.toString()
    const member = this.members.get(peerId)
    if (member == null || this.peers.get(peerId)?.verified !== true) {
      this.stats.drop('unverified_peer')
      stream.abort(new Error('peer not verified'))
      return
    }
    await serveSyncStream(stream, async (req) => await this.opts.handlers.onSyncRequest(req, member), this.limits.sync, this.stats)
  }

  counters (): ReturnType<P2PCounters['snapshot']> {
    return this.stats.snapshot()
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.redialTimer)
    clearInterval(this.statusTimer)
    for (const s of this.peers.values()) {
      for (const link of Object.values(s.links)) link.close()
      for (const w of s.waiters.splice(0)) w(false)
    }
    await this.libp2p.stop()
  }
}
