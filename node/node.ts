import { EventEmitter } from 'node:events'
import { fromHex, toHex } from '../codec/index.js'
import { Ed25519Signer, sha256, verify } from '../crypto/index.js'
import {
  ConsensusCore, blockHash, decodeBlock, decodeCommit, decodeMessage, encodeBlock, encodeCommit, verifyCommit, ZERO_HASH,
  decodeSignState, encodeSignState, type Block, type Commit, type ConsensusMessage, type SignState, type Validator
} from '../consensus/index.js'
import {
  LedgerState, initGenesis, decodeTx, breakGlassEvents, checkAccess, getMember, getPatientByKey, getProvider, keys, type Category, type Purpose, type Write
} from '../ledger/index.js'
import { MAX_SCAN_LIMIT, openChainStore, type ChainStore } from '../storage/index.js'
import { createP2PHost, type P2PHost } from '../p2p/index.js'
import { Application, type CommittedBlock } from './app.js'
import { createApi, type ApiBackend, type ChainEvent } from './api.js'
import { createNodeDriver, readConsensusWal, type NodeDriver } from './driver.js'
import { NodeError } from './errors.js'
import { genesisHash, type Genesis } from './genesis.js'
import { isLoopback, type NodeConfig } from './config.js'
import { createLogger, type Logger } from './log.js'
import { Mempool } from './mempool.js'
import { createMetrics, type Metrics } from './metrics.js'
import { TxBatcher, decodeTxBatch } from './txgossip.js'
import { explorerHtml } from './explorer.js'
import { openApiDocument } from './openapi.js'
import { ProofService } from './proofService.js'
import { startMetricsListener } from './metrics-listener.js'
import { tlsMaterial } from './tls.js'
import type { LoggedAccess, Principal } from './auth/access.js'
import { PatientQueries } from './query/patients.js'
import type { FastifyInstance } from 'fastify'

export interface NodeOptions {
  home: string
  dataDir: string
  config: NodeConfig
  genesis: Genesis
  seed: Uint8Array
  /** Injected wall clock (ms); tests skew it. Consensus and ledger never read it. */
  clock?: () => number
  logger?: Logger
}

const MAX_TX_BATCH_BYTES = 1024 * 1024
const MAX_TX_BATCH_ITEMS = 4096
const MAX_WAITERS = 100_000
/** Pending bytes offered to a newly connected member: half of its direct stream's queue. */
const MAX_REOFFER_BYTES = 32 * 1024 * 1024
const SYNC_BATCH = 200
/** Gossiped transactions waiting for their checks, and how many are checked per macrotask. */
const MAX_TX_INBOX = 200_000
const TX_CHECK_SLICE = 32

interface Waiter { resolve: (v: unknown) => void, timer: NodeJS.Timeout }

/**
 * A medchain validator: the composition root. Builds storage, ledger state,
 * mempool, consensus driver, p2p host and HTTP API, threads one metrics object
 * through them, and tears them down in reverse order.
 */
export class MedchainNode {
  readonly metrics: Metrics
  readonly log: Logger
  readonly chainId: string
  readonly validators: Validator[]
  private readonly events = new EventEmitter()
  private readonly waiters = new Map<string, Waiter[]>()
  private readonly submittedAt = new Map<string, number>()
  /** validator index → wall time of its last consensus message seen (readiness). */
  private readonly lastHeard = new Map<number, number>()
  private readonly clock: () => number
  private readonly signerKey: Uint8Array
  private readonly myIndex: number
  private store!: ChainStore
  private app!: Application
  private driver!: NodeDriver
  private p2p!: P2PHost
  private api!: FastifyInstance
  private batcher!: TxBatcher
  private proofs!: ProofService
  private syncTimer: NodeJS.Timeout | null = null
  private syncing = false
  private txInbox: Uint8Array[] = []
  private txInboxHead = 0
  private draining = false
  private headTime = 0
  private lastCommitWall = 0
  private readonly validatorLastSeen: number[]
  private stopped = false
  apiUrl = ''
  metricsUrl = ''
  private metricsServer: { url: string, close: () => Promise<void> } | undefined

  constructor (private readonly opts: NodeOptions) {
    this.metrics = createMetrics()
    this.chainId = opts.genesis.chainId
    this.clock = opts.clock ?? Date.now
    this.log = opts.logger ?? createLogger(opts.config.moniker, opts.config.log.level)
    this.validators = opts.genesis.validators.map(v => ({ publicKey: fromHex(v.publicKey, 32), power: v.power }))
    this.signerKey = new Ed25519Signer(opts.seed).publicKey
    this.myIndex = this.validators.findIndex(v => toHex(v.publicKey) === toHex(this.signerKey))
    this.validatorLastSeen = this.validators.map(() => 0)
    this.metrics.validators.set(this.validators.length)
    this.metrics.mempoolCapacityTxs.set(opts.config.mempool.maxTxs)
  }

  async start (): Promise<void> {
    const { config, genesis } = this.opts
    const gHash = genesisHash(genesis)
    try {
      this.store = await openChainStore(this.opts.dataDir, { chainId: this.chainId, genesisHash: gHash, hashBlock: bytes => blockHash(decodeBlock(bytes).header) })
    } catch (err) {
      const e = err as { code?: string, message: string }
      if (e.code === 'STORE_CORRUPT') throw new NodeError('STORE_CORRUPT', `${e.message}; with the node stopped, run \`medchain verify-chain --home ${this.opts.home}\` to find the first damaged height and key`, 500)
      throw err
    }
    const head = this.store.head()

    // Ledger state: genesis in memory until the first block persists it, else rebuilt from disk.
    const members = genesis.validators.map(v => ({ name: v.name.toLowerCase(), publicKey: fromHex(v.publicKey, 32) }))
    let state: LedgerState
    let genesisWrites: Write[] | null = null
    // Values stay on disk (read through a bounded cache); only the keys' group index is in memory.
    const stateRepo = this.store.state
    const source = { read: (key: string) => stateRepo.readSync(key), readNode: (pos: Uint8Array) => stateRepo.readNodeSync(pos) }
    if (head === null) {
      const g = initGenesis({ chainId: this.chainId, members })
      state = g.state
      state.attachSource(source)
      genesisWrites = g.writes
    } else {
      const keys: string[] = []
      for await (const key of stateRepo.keys()) keys.push(key)
      state = LedgerState.fromSource(source, keys, head.stateRoot, head.height)
      // The stored tree must still give the head's root (its root node at least): else the proofs would lie.
      if (!state.stateTree.rootNodeMatches()) {
        throw new NodeError('STORE_CORRUPT', `the stored state tree does not give the head's state root at height ${head.height}; with the node stopped, run \`medchain verify-chain --home ${this.opts.home}\``, 500)
      }
      const summary = await this.store.blocks.getSummary(head.height)
      this.headTime = summary?.time ?? 0
    }
    // The mempool starts at the stored head: blocks applied after a restart continue from it.
    const mempool = new Mempool<import('./app.js').PendingTx>({
      limits: config.mempool,
      head: head?.height ?? 0,
      clock: this.clock,
      metrics: {
        setSize: (txs, bytes) => { this.metrics.mempoolTxs.set(txs); this.metrics.mempoolBytes.set(bytes) },
        rejected: reason => this.metrics.txsRejected.inc({ reason }),
        evicted: n => this.metrics.mempoolEvicted.inc(n)
      }
    })
    this.app = new Application(this.chainId, state, this.store, { maxBlockTxs: config.block.maxTxs, maxBlockBytes: config.block.maxBytes, metrics: this.metrics, genesisWrites, mempool })

    const signState = await this.loadSignState()
    // The WAL of the height in progress: messages seen and sent, and the lock proof if we locked.
    const latest = await this.store.latestCommit()
    const lastCommit = latest === undefined ? null : decodeCommit(latest.commit)
    const { messages: walMessages, lockProof } = await readConsensusWal(this.store.wal, (head?.height ?? 0) + 1, this.log)
    const core = new ConsensusCore({
      chainId: this.chainId,
      signer: this.myIndex >= 0 ? new Ed25519Signer(this.opts.seed) : null,
      verifier: (tag, chainId, body, pk, sig) => {
        this.metrics.sigVerifications.inc({ what: tag })
        return verify(tag, chainId, body, pk, sig)
      },
      timeouts: { proposeMs: config.consensus.proposeMs, prevoteMs: config.consensus.prevoteMs, precommitMs: config.consensus.precommitMs, deltaMs: config.consensus.deltaMs, commitMs: config.consensus.commitMs },
      signState,
      lockProof
    })

    this.p2p = await createP2PHost({
      seed: this.opts.seed,
      listen: { host: config.p2p.host, port: config.p2p.port },
      chainId: this.chainId,
      genesisHash: gHash,
      members: genesis.validators.map(v => ({ publicKey: fromHex(v.publicKey, 32), multiaddr: v.p2p })),
      handlers: {
        onTxBatch: bytes => this.onTxBatch(bytes),
        onConsensusMessage: bytes => this.onConsensusBytes(bytes),
        onSyncRequest: async req => await this.serveSync(req.from, req.to),
        onPeerStatus: ev => {
          if (ev.kind === 'connected' && this.driver !== undefined) this.driver.rebroadcast()
          if (ev.kind === 'connected') this.offerPending(ev.peer.peerId)
          if (ev.kind === 'genesis-mismatch') this.log.error('peer runs another genesis: refusing it', { peer: ev.peer.peerId, theirs: ev.theirGenesisHash, ours: ev.ourGenesisHash })
          if (ev.kind === 'chain-mismatch') this.log.error('peer runs another chain: refusing it', { peer: ev.peer.peerId, theirs: ev.theirChainId, ours: ev.ourChainId })
        }
      },
      metrics: {
        messagesIn: (kind, bytes) => { this.metrics.p2pMessagesIn.inc({ topic: kind }); this.metrics.p2pBytesIn.inc({ topic: kind }, bytes) },
        messagesOut: (kind, bytes) => { this.metrics.p2pMessagesOut.inc({ topic: kind }); this.metrics.p2pBytesOut.inc({ topic: kind }, bytes) },
        dropped: reason => this.metrics.p2pDropped.inc({ topic: 'p2p', reason }),
        peersConnected: n => this.metrics.peers.set(n)
      },
      limits: { maxTxBatchBytes: MAX_TX_BATCH_BYTES + 1024, maxConsensusBytes: 8 * 1024 * 1024 },
      timing: { statusIntervalMs: 1000 },
      log: (level, message, fields) => this.log[level](`p2p: ${message}`, fields)
    })
    this.p2p.setLocalHeight(head?.height ?? 0)
    // Transactions go to every member over the direct streams (a full mesh of members):
    // measured 7x the throughput of gossipsub here (p2p/README.md).
    this.batcher = new TxBatcher(batch => { this.p2p.broadcastTxBatch(batch) }, { maxItems: 256, maxBytes: MAX_TX_BATCH_BYTES, flushMs: 5 })

    this.driver = createNodeDriver({
      core,
      app: this.app,
      validators: this.validators,
      signState: { save: async st => await this.saveSignState(st) },
      wal: this.store.wal,
      broadcast: bytes => { this.p2p.broadcastConsensus(bytes) },
      onCommitted: (c, commit, source) => this.onCommitted(c, commit, source),
      clock: this.clock,
      timing: { commitMs: config.consensus.commitMs, createEmptyBlocksMs: config.consensus.createEmptyBlocksMs, maxFutureBlockMs: 10_000, rebroadcastMs: 2000, proposeMs: config.consensus.proposeMs },
      head: () => {
        const h = this.store.head()
        return h === null ? { height: 0, hash: ZERO_HASH, time: genesis.genesisTime } : { height: h.height, hash: h.hash, time: this.headTime }
      },
      log: this.log,
      metrics: this.metrics
    })

    this.driver.start(lastCommit, walMessages)
    this.metrics.height.set(head?.height ?? 0)

    this.proofs = new ProofService(this.chainId, this.store, () => this.app.state)
    const https = tlsMaterial(this.opts.home, config.api)
    this.api = await createApi(this.backend(), {
      maxBodyBytes: config.api.maxBodyBytes,
      metrics: this.metrics,
      log: msg => this.log.error(msg),
      auth: { chainId: this.chainId, nodeKey: toHex(this.signerKey), clock: this.clock, readsPerMinute: config.api.readsPerMinute, writesPerMinute: config.api.writesPerMinute },
      ...(https !== null ? { https } : {})
    })
    this.apiUrl = await this.api.listen({ host: config.api.host, port: config.api.port })
    if (https === null && config.api.plainHttpOnNetwork && !isLoopback(config.api.host)) this.log.warn('API serves PLAIN HTTP off loopback (api.plainHttpOnNetwork): for a closed test network only; patient data must not cross a real network in clear', { api: this.apiUrl })
    else if (https === null) this.log.warn('API serves plain HTTP on the loopback interface only: name api.tlsCert and api.tlsKey in config.toml to serve HTTPS', { api: this.apiUrl })
    else this.log.info(`API serves HTTPS${https.ca !== undefined ? ' and requires client certificates from api.tlsClientCa' : ''}`, { api: this.apiUrl })
    this.metricsServer = await startMetricsListener({ host: config.metrics.host, port: config.metrics.port }, async () => await this.metricsText())
    this.metricsUrl = this.metricsServer.url
    this.syncTimer = setInterval(() => { void this.syncStep() }, 500)
    this.log.info('node started', { chainId: this.chainId, height: head?.height ?? 0, validatorIndex: this.myIndex, api: this.apiUrl, p2p: this.p2p.multiaddrs()[0] })
  }

  // ---------------------------------------------------------------- sign state

  private async loadSignState (): Promise<SignState | null> {
    const st = await this.store.signerState.load()
    if (st === null || st.payload === undefined || st.payload.length === 0) return null
    return decodeSignState(st.payload)
  }

  private async saveSignState (st: SignState): Promise<void> {
    const step = st.step === 'propose' ? 0 : st.step === 'prevote' ? 1 : 2
    await this.store.signerState.save({ height: st.height, round: st.round, step, signBytesHash: sha256(st.blockHash ?? new Uint8Array(0)), payload: encodeSignState(st) })
  }

  // ---------------------------------------------------------------- inputs

  submitTx (bytes: Uint8Array): { id: string } {
    if (this.driver.failure !== null) throw new NodeError('NODE_HALTED', `consensus halted: ${this.driver.failure.message}`, 503)
    const tx = this.app.checkTx(bytes, 'api')
    if (this.submittedAt.size < MAX_WAITERS) this.submittedAt.set(tx.id, this.clock())
    this.batcher.add(bytes)
    this.driver.notifyTxs()
    return { id: tx.id }
  }

  /**
   * Offers every pending transaction to a member that just connected. Transactions go out
   * only to the members connected when they arrive, so one accepted while this node had no
   * peer (just restarted, or cut off) would otherwise reach nobody. The peer drops those it
   * has already, before any signature check.
   */
  private offerPending (peerId: string): void {
    if (this.p2p === undefined || this.app === undefined || this.stopped || this.app.mempool.size === 0) return
    let offered = 0
    let bytes = 0
    let refused = false
    const batcher = new TxBatcher(batch => { if (!this.p2p.sendTxBatch(peerId, batch)) refused = true }, { maxItems: 256, maxBytes: MAX_TX_BATCH_BYTES, flushMs: 5 })
    for (const tx of this.app.mempool.pending()) {
      // The direct stream's queue is bounded: beyond this the rest would be dropped anyway.
      if (bytes + tx.bytes.length > MAX_REOFFER_BYTES || refused) break
      batcher.add(tx.bytes)
      offered++
      bytes += tx.bytes.length
    }
    batcher.flush()
    batcher.stop()
    this.log.info('offered pending transactions to a connected member', { peer: peerId, txs: offered, pending: this.app.mempool.size, refused })
  }

  private onTxBatch (bytes: Uint8Array): void {
    let txs: Uint8Array[]
    try { txs = decodeTxBatch(bytes, MAX_TX_BATCH_BYTES + 1024, MAX_TX_BATCH_ITEMS) } catch {
      this.metrics.p2pDropped.inc({ topic: 'tx', reason: 'malformed' })
      return
    }
    if (this.txInbox.length - this.txInboxHead + txs.length > MAX_TX_INBOX) {
      this.metrics.p2pDropped.inc({ topic: 'tx', reason: 'inbox_full' })
      return
    }
    for (const tx of txs) this.txInbox.push(tx)
    if (!this.draining) { this.draining = true; setImmediate(() => this.drainTxInbox()) }
  }

  /**
   * Checks gossiped transactions a slice at a time, yielding between slices, so a burst
   * of signature checks never holds up consensus messages queued behind it.
   */
  private drainTxInbox (): void {
    if (this.stopped) return
    let added = 0
    const end = Math.min(this.txInbox.length, this.txInboxHead + TX_CHECK_SLICE)
    for (; this.txInboxHead < end; this.txInboxHead++) {
      try { this.app.checkTx(this.txInbox[this.txInboxHead], 'gossip'); added++ } catch {}
    }
    if (added > 0) this.driver.notifyTxs()
    if (this.txInboxHead < this.txInbox.length) {
      setImmediate(() => this.drainTxInbox())
    } else {
      this.txInbox = []
      this.txInboxHead = 0
      this.draining = false
    }
  }

  private onConsensusBytes (bytes: Uint8Array): void {
    let message: ConsensusMessage
    try { message = decodeMessage(bytes) } catch {
      this.metrics.p2pDropped.inc({ topic: 'consensus', reason: 'malformed' })
      return
    }
    // Readiness only (never consensus): who we still hear from, by the claimed signer.
    const from = message.type === 'vote' ? message.vote.validatorIndex : message.proposal.validatorIndex
    if (from !== this.myIndex && from >= 0 && from < this.validators.length) this.lastHeard.set(from, this.clock())
    this.driver.receive(message)
  }

  /**
   * Validators (this one included) heard from within the window. Consensus messages flow at
   * least every proposeMs / 2 + a vote (empty blocks) or every rebroadcast, so silence past the
   * window means a cut-off link even while libp2p (pinging every 10 s) still lists the peer.
   */
  private heardRecently (): number {
    const windowMs = Math.max(10_000, 2 * this.opts.config.consensus.proposeMs + 2_000)
    const now = this.clock()
    let n = this.myIndex >= 0 ? 1 : 0
    for (const at of this.lastHeard.values()) if (now - at <= windowMs) n++
    return n
  }

  // ---------------------------------------------------------------- commits

  private onCommitted (c: CommittedBlock, commit: Commit | null, source: 'consensus' | 'sync'): void {
    const h = c.block.header
    this.headTime = h.time
    this.lastCommitWall = this.clock()
    const m = this.metrics
    m.height.set(h.height)
    m.lastBlockTime.set(h.time / 1000)
    m.blocksCommitted.inc()
    m.blockTxs.observe(c.txIds.length)
    m.blockBytes.observe(c.bytes)
    if (source === 'sync') m.syncBlocks.inc()
    this.p2p.setLocalHeight(h.height)
    if (commit !== null) this.recordSigners(commit)
    const now = this.clock()
    const results = c.execution.results
    for (let i = 0; i < c.txIds.length; i++) {
      const id = c.txIds[i]
      const kind = c.kinds[i]
      m.txsCommitted.inc({ kind, result: results[i].code })
      const t0 = this.submittedAt.get(id)
      if (t0 !== undefined) { m.submitToCommit.observe((now - t0) / 1000); this.submittedAt.delete(id) }
      const waiting = this.waiters.get(id)
      if (waiting !== undefined) {
        this.waiters.delete(id)
        const answer = { id, status: 'committed', height: h.height, index: i, code: results[i].code, log: results[i].log, events: results[i].events }
        for (const w of waiting) { clearTimeout(w.timer); w.resolve(answer) }
      }
      if (this.events.listenerCount('event') > 0) {
        this.events.emit('event', { type: 'tx', height: h.height, patients: Application.patientsOf(results[i].events), data: { id, height: h.height, index: i, kind, code: results[i].code, events: results[i].events } } satisfies ChainEvent)
      }
    }
    this.events.emit('event', { type: 'block', height: h.height, data: { height: h.height, hash: toHex(c.hash), time: h.time, txCount: h.txCount, proposer: toHex(h.proposer), stateRoot: toHex(h.stateRoot) } } satisfies ChainEvent)
    if (h.height % 100 === 0 || h.txCount > 0 || source === 'sync') this.log.debug('committed', { height: h.height, txs: h.txCount, hash: toHex(c.hash) })
  }

  private recordSigners (commit: Commit): void {
    const signed = new Set(commit.signatures.map(s => s.validatorIndex))
    for (let i = 0; i < this.validators.length; i++) {
      const label = { validator: this.opts.genesis.validators[i].name }
      if (signed.has(i)) { this.validatorLastSeen[i] = commit.height; this.metrics.validatorLastHeight.set(label, commit.height) } else this.metrics.validatorMissed.inc(label)
    }
  }

  // ---------------------------------------------------------------- block sync

  private async serveSync (from: number, to: number): Promise<{ blocks: Uint8Array[] }> {
    const head = this.store.head()?.height ?? 0
    const last = Math.min(to, head, from + SYNC_BATCH - 1)
    if (from < 1 || from > last) return { blocks: [] }
    const items = await this.store.blocks.getRange(from, last, 4 * 1024 * 1024)
    const out: Uint8Array[] = []
    for (const item of items) {
      // The certificate of a block is stored with it once known (the next block carries it too).
      const commit = item.commit ?? await this.store.blocks.getCommit(item.height)
      if (commit === undefined) break
      out.push(encodeSyncItem(item.block, commit))
    }
    return { blocks: out }
  }

  /** Catch up when a peer is ahead: fetch blocks with their certificates, verify, apply in order. */
  private async syncStep (): Promise<void> {
    if (this.syncing || this.stopped) return
    const myHeight = this.store.head()?.height ?? 0
    const peers = this.p2p.peerHeights().filter(p => p.height > myHeight)
    if (peers.length === 0) { this.metrics.syncing.set(0); return }
    const target = Math.max(...peers.map(p => p.height))
    this.metrics.syncTargetHeight.set(target)
    // One block behind is the normal state while a commit propagates; sync if it persists.
    const stalled = this.clock() - this.lastCommitWall > 2000
    if (target < myHeight + 2 && !stalled) return
    const peer = peers.sort((a, b) => b.height - a.height)[0]
    this.syncing = true
    this.metrics.syncing.set(1)
    try {
      let height = myHeight
      while (height < target && !this.stopped) {
        const items = await this.p2p.requestBlocks(peer.peerId, height + 1, Math.min(target, height + SYNC_BATCH))
        if (items.length === 0) break
        for (const item of items) {
          const { block, commit } = decodeSyncItem(item)
          const expected = height + 1
          if (block.header.height !== expected) throw new NodeError('SYNC_BAD_BLOCK', `peer sent height ${block.header.height}, expected ${expected}`)
          verifyCommit(commit, this.validators, this.chainId, verify, { height: expected, blockHash: blockHash(block.header) })
          await this.driver.applySynced(block, commit)
          const head = this.store.head()?.height ?? 0
          if (head < expected) throw new NodeError('SYNC_NOT_APPLIED', `block ${expected} was not applied`)
          height = head
          // Consensus committed this height (and more) first: ask again from the new head.
          if (head > expected) break
        }
      }
    } catch (err) {
      this.log.warn('block sync from peer failed', { peer: peer.peerId, err: (err as Error).message })
    } finally {
      this.syncing = false
      this.metrics.syncing.set(0)
    }
  }

  // ---------------------------------------------------------------- API

  private backend (): ApiBackend {
    const patientId = (hex: string): Uint8Array => fromHex(hex, 32)
    const patients = new PatientQueries({ state: () => this.app.state, scan: (prefix, o) => this.store.state.scanPrefix(prefix, o), clock: this.clock })
    return {
      status: () => {
        const head = this.store.head()
        return {
          chainId: this.chainId,
          moniker: this.opts.config.moniker,
          nodeKey: toHex(this.signerKey),
          validatorIndex: this.myIndex,
          height: head?.height ?? 0,
          latestBlockHash: toHex(head?.hash ?? ZERO_HASH),
          stateRoot: toHex(head?.stateRoot ?? this.app.state.stateRoot),
          latestBlockTime: this.headTime,
          syncing: this.syncing,
          halted: this.driver.failure?.message ?? null,
          mempool: { txs: this.app.mempool.size, bytes: this.app.mempool.bytes },
          peers: this.p2p.connectedMembers().map(p => p.peerId),
          p2p: this.p2p.multiaddrs()
        }
      },
      ready: () => {
        if (this.driver.failure !== null) return { ready: false, reason: `consensus halted: ${this.driver.failure.message}` }
        if (this.syncing) return { ready: false, reason: 'syncing' }
        const quorum = Math.floor(this.validators.length * 2 / 3) + 1
        const peers = this.p2p.connectedMembers().length + (this.myIndex >= 0 ? 1 : 0)
        if (peers < quorum && this.validators.length > 1) return { ready: false, reason: `connected to ${peers} of ${this.validators.length} validators, quorum is ${quorum}` }
        const heard = this.heardRecently()
        if (heard < quorum && this.validators.length > 1) return { ready: false, reason: `heard consensus messages from ${heard} of ${this.validators.length} validators recently, quorum is ${quorum}` }
        return { ready: true, reason: 'in consensus' }
      },
      submitTx: bytes => this.submitTx(bytes),
      waitForCommit: async (id, timeoutMs) => await this.waitForCommit(id, timeoutMs),
      getTx: async id => await this.txInfo(id),
      getReceipt: async id => await this.proofs.answer({ kind: 'tx', id }),
      proof: async q => await this.proofs.answer(q),
      getBlock: async height => await this.blockInfo(height),
      listBlocks: async (before, limit) => {
        const top = Math.min(before === null ? Infinity : before - 1, this.store.head()?.height ?? 0)
        const out: unknown[] = []
        for (let h = top; h >= 1 && out.length < limit; h--) {
          const s = await this.store.blocks.getSummary(h)
          if (s !== undefined) out.push({ height: h, hash: s.hash, time: s.time, txCount: s.txCount, stateRoot: s.stateRoot })
        }
        return out
      },
      validators: () => {
        const reported = new Map(this.p2p.peerHeights().map(p => [toHex(p.publicKey), p.height]))
        const connected = new Set(this.p2p.connectedMembers().map(p => toHex(p.publicKey)))
        return this.opts.genesis.validators.map((v, i) => ({
          index: i,
          name: v.name,
          publicKey: v.publicKey,
          power: v.power,
          self: i === this.myIndex,
          connected: i === this.myIndex || connected.has(v.publicKey),
          lastCommitHeight: this.validatorLastSeen[i],
          reportedHeight: i === this.myIndex ? (this.store.head()?.height ?? 0) : (reported.get(v.publicKey) ?? null)
        }))
      },
      account: key => {
        const committed = this.app.nextNonce(key)
        // A provider's organisation and its key: the CLI seals the provider's free text to it (issue 13).
        const provider = getProvider(this.app.state, fromHex(key, 32))
        const member = provider === undefined ? undefined : getMember(this.app.state, provider.org)
        const org = member === undefined ? {} : { org: { name: member.name, key: toHex(member.key) } }
        // kind: who this key is on the ledger, so a page signed in with it asks only for what it may read.
        return { key, kind: this.identify(key)?.kind ?? 'unregistered', nextNonce: committed, nextPendingNonce: this.app.mempool.nextPendingNonce(key, committed), ...org }
      },
      patientConsents: (id, at, page) => patients.consents(id, at, page),
      patientAudit: async (id, page) => await patients.audit(id, page),
      patientRequests: (id, page) => patients.requests(id, page),
      patientRecords: (id, page) => patients.records(id, page),
      patientRepresentatives: (id, at, page) => patients.representatives(id, at, page),
      patientBreakGlass: async id => breakGlassEvents(this.app.state, patientId(id)),
      decision: q => patients.decision(q),
      accessDecision: q => checkAccess(this.app.state, {
        patient: patientId(q.patient),
        requester: fromHex(q.grantee, 32),
        // The words come from a committed access.log: the ledger already checked them.
        ...(q.category !== undefined ? { category: q.category as Category } : {}),
        ...(q.record !== undefined ? { record: fromHex(q.record, 32) } : {}),
        action: 'read',
        purpose: q.purpose as Purpose,
        time: this.clock()
      }),
      subscribe: listener => {
        this.events.on('event', listener)
        return () => { this.events.off('event', listener) }
      },
      identify: key => this.identify(key),
      txParties: async id => await this.txParties(id),
      accessLog: async id => await this.accessLog(id),
      explorerHtml: () => explorerHtml(this.chainId),
      openApi: () => openApiDocument(),
      fhir: {
        chainId: this.chainId,
        state: () => this.app.state,
        read: prefix => this.store.state.scanPrefix(prefix, { limit: MAX_SCAN_LIMIT }),
        clock: this.clock,
        committedTxSender: async id => {
          const info = await this.txInfo(id) as { status?: string, tx?: { sender: Uint8Array } } | null
          return info?.status === 'committed' && info.tx !== undefined ? info.tx.sender : null
        },
        submitTx: bytes => this.submitTx(bytes),
        waitForCommit: async (id, timeoutMs) => await this.waitForCommit(id, timeoutMs)
      }
    }
  }

  private async metricsText (): Promise<string> {
    this.metrics.peers.set(this.p2p.connectedMembers().length)
    this.metrics.validatorsHeard.set(this.heardRecently())
    return await this.metrics.register.metrics()
  }

  /** Who a key is on the ledger now (docs/access-table.md). */
  private identify (keyHex: string): Principal | null {
    const key = fromHex(keyHex, 32)
    const state = this.app.state
    const patient = getPatientByKey(state, key)
    if (patient !== undefined) return { kind: 'patient', key: keyHex, patient: toHex(patient.id) }
    const provider = getProvider(state, key)
    if (provider !== undefined) return { kind: 'provider', key: keyHex, role: provider.role, org: provider.org, active: provider.status === 'active' }
    const member = state.get<string>(keys.memberKey(key))
    if (member !== undefined) return { kind: 'member', key: keyHex, name: member }
    return null
  }

  private async committedTx (id: string): Promise<{ tx: ReturnType<typeof decodeTx>['tx'], code: string, height: number } | null> {
    const loc = await this.store.txIndex.get(id)
    if (loc === undefined) return null
    const bytes = await this.store.blocks.get(loc.height)
    const txBytes = bytes === undefined ? undefined : decodeBlock(bytes).txs[loc.index]
    if (txBytes === undefined) return null
    return { tx: decodeTx(txBytes, this.chainId, { skipSignature: true }).tx, code: loc.code, height: loc.height }
  }

  private async txParties (id: string): Promise<{ sender: string, patient?: string } | null> {
    const pending = this.app.mempool.get(id)
    const tx = pending !== undefined ? pending.decoded.tx : (await this.committedTx(id))?.tx
    if (tx === undefined) return null
    const body = tx.body as { patient?: Uint8Array }
    // A patient's own transactions (register, grant, revoke) name them by their sender key.
    const patient = body.patient instanceof Uint8Array ? toHex(body.patient) : this.identify(toHex(tx.sender))?.kind === 'patient' ? (this.identify(toHex(tx.sender)) as { patient: string }).patient : undefined
    return { sender: toHex(tx.sender), ...(patient !== undefined ? { patient } : {}) }
  }

  private async accessLog (id: string): Promise<LoggedAccess | null> {
    const c = await this.committedTx(id)
    if (c === null || c.tx.kind !== 'access.log') return null
    const b = c.tx.body as { patient: Uint8Array, action: string, purpose: string, category?: string, record?: Uint8Array }
    const summary = await this.store.blocks.getSummary(c.height)
    if (summary === undefined) return null
    return {
      id,
      sender: toHex(c.tx.sender),
      patient: toHex(b.patient),
      action: b.action,
      purpose: b.purpose,
      ...(b.category !== undefined ? { category: b.category } : {}),
      ...(b.record !== undefined ? { record: toHex(b.record) } : {}),
      time: summary.time,
      code: c.code
    }
  }

  private async waitForCommit (id: string, timeoutMs: number): Promise<unknown> {
    const done = await this.txInfo(id)
    if (done !== null && (done as { status: string }).status === 'committed') return done
    if (this.waiters.size >= MAX_WAITERS) throw new NodeError('API_TOO_MANY_WAITERS', 'too many clients waiting for commits', 503)
    return await new Promise(resolve => {
      const list = this.waiters.get(id) ?? []
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          const rest = (this.waiters.get(id) ?? []).filter(w => w !== waiter)
          if (rest.length === 0) this.waiters.delete(id); else this.waiters.set(id, rest)
          resolve({ id, status: this.app.mempool.has(id) ? 'pending' : 'unknown', timedOut: true })
        }, timeoutMs)
      }
      list.push(waiter)
      this.waiters.set(id, list)
    })
  }

  private async txInfo (id: string): Promise<unknown | null> {
    const pending = this.app.mempool.get(id)
    if (pending !== undefined) return { id, status: 'pending', tx: pending.decoded.tx }
    const loc = await this.store.txIndex.get(id)
    if (loc === undefined) return null
    const bytes = await this.store.blocks.get(loc.height)
    const block = bytes === undefined ? null : decodeBlock(bytes)
    const txBytes = block?.txs[loc.index]
    const tx = txBytes === undefined ? null : decodeTx(txBytes, this.chainId, { skipSignature: true }).tx
    return { id, status: 'committed', height: loc.height, index: loc.index, code: loc.code, ...(loc.log !== undefined ? { log: loc.log } : {}), tx }
  }

  private async blockInfo (height: number | 'latest'): Promise<unknown | null> {
    const h = height === 'latest' ? (this.store.head()?.height ?? 0) : height
    if (h < 1) return null
    const bytes = await this.store.blocks.get(h)
    if (bytes === undefined) return null
    const block = decodeBlock(bytes)
    return {
      height: h,
      hash: blockHash(block.header),
      header: block.header,
      txs: block.txs.map(t => toHex(sha256(t))),
      lastCommit: block.lastCommit === null ? null : { height: block.lastCommit.height, round: block.lastCommit.round, blockHash: block.lastCommit.blockHash, signers: block.lastCommit.signatures.map(s => s.validatorIndex) },
      sizeBytes: bytes.length
    }
  }

  // ---------------------------------------------------------------- shutdown

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.syncTimer !== null) clearInterval(this.syncTimer)
    for (const list of this.waiters.values()) for (const w of list) clearTimeout(w.timer)
    await this.api?.close().catch(() => {})
    await this.metricsServer?.close().catch(() => {})
    this.batcher?.stop()
    await this.driver?.stop()
    await this.p2p?.stop().catch(() => {})
    await this.store?.close()
    this.log.info('node stopped')
  }
}

/** A synced block travels with the certificate that committed it. */
function encodeSyncItem (block: Uint8Array, commit: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + block.length + commit.length)
  new DataView(out.buffer).setUint32(0, block.length)
  out.set(block, 4)
  out.set(commit, 4 + block.length)
  return out
}

function decodeSyncItem (item: Uint8Array): { block: Block, commit: Commit } {
  if (item.length < 4) throw new NodeError('SYNC_BAD_ITEM', 'sync item too short')
  const n = new DataView(item.buffer, item.byteOffset, 4).getUint32(0)
  if (4 + n > item.length) throw new NodeError('SYNC_BAD_ITEM', 'sync item length out of range', n)
  return { block: decodeBlock(item.subarray(4, 4 + n)), commit: decodeCommit(item.subarray(4 + n)) }
}

export { encodeBlock, encodeCommit }
