import { toHex } from '../codec/index.js'
import {
  blockHash, encodeMessage, encodeLockProof, type Block, type Commit, type ConsensusCore, type ConsensusEffect, type ConsensusEvent,
  type ConsensusMessage, type SignState, type Validator
} from '../consensus/index.js'
import type { Application, CommittedBlock } from './app.js'
import type { Metrics } from './metrics.js'
import type { Logger } from './log.js'

export interface SignStatePersistence { save (state: SignState): Promise<void> }

export interface ConsensusWalPort { append (height: number, payload: Uint8Array, options?: { sync?: boolean }): Promise<void>, prune (belowHeight: number): Promise<number> }

export interface DriverDeps {
  core: ConsensusCore
  app: Application
  validators: Validator[]
  signState: SignStatePersistence
  wal: ConsensusWalPort
  broadcast: (bytes: Uint8Array) => void
  onCommitted: (c: CommittedBlock, commit: Commit | null, source: 'consensus' | 'sync') => void
  /** Wall clock in ms; injected so tests can skew it. Only block-time choice and timers use it. */
  clock: () => number
  timing: { commitMs: number, createEmptyBlocksMs: number, maxFutureBlockMs: number, rebroadcastMs: number, proposeMs: number }
  head: () => { height: number, hash: Uint8Array, time: number }
  log: Logger
  metrics?: Metrics
}

const STEP_NUMBER = { propose: 0, prevote: 1, precommit: 2 } as const
const MAX_QUEUED_EVENTS = 20_000

/**
 * Drives the pure consensus core: feeds it events one at a time and executes its
 * effects in order. The one rule that matters most lives here: a persistSignState
 * effect is awaited (durable) before any later effect, so no signature leaves this
 * process before what it signs is on disk (CometBFT privval, etcd-raft's Ready loop).
 */
export class ConsensusDriver {
  private queue: Promise<void> = Promise.resolve()
  private queued = 0
  private readonly timers = new Set<NodeJS.Timeout>()
  private stopped = false
  private heightStartedAt = 0
  private lastCommitAt = 0
  private waitingBuild: { timer: NodeJS.Timeout, effect: Extract<ConsensusEffect, { type: 'buildBlock' }> } | null = null
  private fatal: Error | null = null
  private rebroadcastTimer: NodeJS.Timeout | null = null
  private lastProgress = ''

  constructor (private readonly d: DriverDeps) {}

  get failure (): Error | null { return this.fatal }

  /** Enters the height after the stored head; replays this height's WAL messages. */
  start (lastCommit: Commit | null, walMessages: ConsensusMessage[]): void {
    const head = this.d.head()
    this.lastCommitAt = this.d.clock()
    this.enqueueNewHeight(head.height + 1, head.hash, head.time, lastCommit)
    for (const message of walMessages) this.enqueue({ type: 'message', message }, true)
    // Messages sent while a peer was down are lost; when a round makes no progress for a
    // tick, re-send our own votes and proposal so the round can still complete.
    this.rebroadcastTimer = setInterval(() => {
      const st = this.d.core.status()
      const now = `${st.height}/${st.round}/${st.step}/${String(st.decided)}`
      if (now === this.lastProgress) this.rebroadcast()
      this.lastProgress = now
    }, this.d.timing.rebroadcastMs)
  }

  /** Re-sends this validator's messages of the current height (also when a peer connects). */
  rebroadcast (): void {
    if (this.queued < 100) this.enqueue({ type: 'rebroadcast' }, true)
  }

  private enqueueNewHeight (height: number, prevHash: Uint8Array, prevTime: number, lastCommit: Commit | null): void {
    this.enqueue({ type: 'newHeight', height, validators: this.d.validators, prevBlockHash: prevHash, prevBlockTime: prevTime, lastCommit }, true)
  }

  /** Queues a network message; dropped (and counted) when the queue is over its bound. */
  receive (message: ConsensusMessage): void {
    if (this.queued >= MAX_QUEUED_EVENTS) { this.d.metrics?.p2pDropped.inc({ topic: 'consensus', reason: 'queue_full' }); return }
    const height = message.type === 'vote' ? message.vote.height : message.proposal.height
    // Not synced: a lost received message is sent again by its author's rebroadcast.
    if (height > this.d.head().height) void this.d.wal.append(height, encodeMessage(message), { sync: false }).catch(err => this.d.log.warn('wal append failed', { err: String(err) }))
    this.enqueue({ type: 'message', message })
  }

  /** A transaction arrived: a proposer waiting for transactions builds now. */
  notifyTxs (): void {
    if (this.waitingBuild === null) return
    const { timer, effect } = this.waitingBuild
    clearTimeout(timer)
    this.waitingBuild = null
    this.enqueueTask(async () => { this.build(effect) })
  }

  private enqueue (event: ConsensusEvent, force = false): void {
    if (this.stopped) return
    if (!force && this.queued >= MAX_QUEUED_EVENTS) return
    this.enqueueTask(async () => { await this.process(event) })
  }

  /** Runs a task on the driver's serial queue (used by block sync too). */
  enqueueTask (task: () => Promise<void>): Promise<void> {
    this.queued++
    const run = this.queue.then(async () => {
      this.queued--
      if (this.stopped || this.fatal !== null) return
      await task()
    })
    this.queue = run.catch(err => {
      this.fatal = err as Error
      this.d.log.error('consensus driver halted', { err: (err as Error).stack ?? String(err) })
    })
    return run
  }

  private async process (event: ConsensusEvent): Promise<void> {
    const effects = this.d.core.handle(event)
    for (const effect of effects) await this.execute(effect)
    const st = this.d.core.status()
    this.d.metrics?.round.set(st.round)
    this.d.metrics?.step.set(st.decided ? 3 : STEP_NUMBER[st.step])
  }

  private async execute (e: ConsensusEffect): Promise<void> {
    const m = this.d.metrics
    switch (e.type) {
      case 'persistSignState': {
        const started = performance.now()
        await this.d.signState.save(e.state)
        const ms = performance.now() - started
        if (ms > 20) this.d.log.debug('slow sign-state save', { ms: Math.round(ms), height: e.state.height, step: e.state.step })
        return
      }
      case 'persistLock':
        // The locked block and its +2/3 prevotes, so a restart can re-propose and prove the
        // lock. Safety does not hang on it (the lock itself is in the synced sign state), so it
        // is written without an fsync that would stall the vote behind it.
        void this.d.wal.append(e.lock.height, encodeLockProof(e.lock), { sync: false }).catch(err => this.d.log.warn('wal append failed', { err: String(err) }))
        return
      case 'broadcast': {
        const bytes = encodeMessage(e.message)
        const height = e.message.type === 'vote' ? e.message.vote.height : e.message.proposal.height
        // Own messages go to the WAL too, so a restart can re-send them; the sign state
        // (synced before signing) is what prevents a conflicting signature, so no fsync here.
        void this.d.wal.append(height, bytes, { sync: false }).catch(err => this.d.log.warn('wal append failed', { err: String(err) }))
        this.d.broadcast(bytes)
        if (e.message.type === 'proposal') m?.proposals.inc()
        return
      }
      case 'scheduleTimeout': {
        const timer = setTimeout(() => {
          this.timers.delete(timer)
          m?.timeouts.inc({ step: e.step })
          this.enqueue({ type: 'timeout', height: e.height, round: e.round, step: e.step }, true)
        }, e.ms)
        this.timers.add(timer)
        return
      }
      case 'buildBlock': {
        // Without transactions, wait (up to createEmptyBlocksMs after the last commit) for some.
        // Never wait past half the propose timeout, or the others would give up on this proposal.
        const emptyWait = Math.min(this.d.timing.createEmptyBlocksMs, this.d.timing.proposeMs / 2)
        const wait = this.d.app.mempool.size > 0 ? 0 : this.lastCommitAt + emptyWait - this.d.clock()
        if (wait <= 0) { this.build(e); return }
        const timer = setTimeout(() => {
          if (this.waitingBuild?.timer !== timer) return
          this.waitingBuild = null
          this.enqueueTask(async () => { this.build(e) })
        }, wait)
        this.waitingBuild = { timer, effect: e }
        return
      }
      case 'validateBlock': {
        const head = this.d.head()
        const started = performance.now()
        const reason = this.d.app.validateBlock(e.block, { height: head.height + 1, prevHash: head.hash, prevTime: head.time, maxFutureMs: this.d.timing.maxFutureBlockMs, now: this.d.clock() })
        this.d.log.debug('block validated', { height: e.height, round: e.round, txs: e.block.txs.length, ms: Math.round(performance.now() - started), valid: reason === null })
        if (reason !== null) this.d.log.warn('proposed block invalid', { height: e.height, round: e.round, hash: toHex(e.blockHash), reason })
        this.enqueue({ type: 'blockValidated', height: e.height, blockHash: e.blockHash, valid: reason === null }, true)
        return
      }
      case 'commit':
        await this.commit(e.block, e.commit, 'consensus')
        return
      case 'evidence':
        m?.evidence.inc()
        this.d.log.warn('evidence of conflicting votes', { validator: e.evidence.voteA.validatorIndex, height: e.evidence.voteA.height, round: e.evidence.voteA.round, type: e.evidence.voteA.type })
        return
      case 'signRefused':
        this.d.log.error('refused to sign: it would conflict with what this validator already signed', { code: e.code, height: e.height, round: e.round, step: e.step })
        return
      case 'messageRejected':
        m?.p2pDropped.inc({ topic: 'consensus', reason: e.code })
        this.d.log.debug('consensus message rejected', { code: e.code, detail: e.detail })
    }
  }

  private build (e: Extract<ConsensusEffect, { type: 'buildBlock' }>): void {
    if (this.d.core.status().height !== e.height) return
    const time = Math.max(this.d.clock(), e.minTime)
    const started = performance.now()
    const block = this.d.app.buildBlock({ height: e.height, proposer: e.proposer, prevHash: e.prevHash, lastCommit: e.lastCommit, lastCommitHash: e.lastCommitHash, time })
    this.d.log.debug('block built', { height: e.height, round: e.round, txs: block.txs.length, ms: Math.round(performance.now() - started) })
    this.enqueue({ type: 'blockBuilt', height: e.height, round: e.round, block }, true)
  }

  private async commit (block: Block, commit: Commit | null, source: 'consensus' | 'sync'): Promise<void> {
    // Block sync and consensus can both decide the same height; the first one to land wins
    // and already moved consensus on (newHeight is queued), the other is a no-op.
    if (block.header.height !== this.d.head().height + 1) return
    if (this.waitingBuild !== null) { clearTimeout(this.waitingBuild.timer); this.waitingBuild = null }
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    const started = performance.now()
    const committed = await this.d.app.commitBlock(block, commit)
    const now = this.d.clock()
    this.d.log.debug('block committed', { height: block.header.height, round: commit?.round, txs: block.txs.length, source, commitMs: Math.round(performance.now() - started), heightMs: this.heightStartedAt > 0 ? now - this.heightStartedAt : null, queued: this.queued })
    const m = this.d.metrics
    if (source === 'consensus') {
      m?.roundsPerHeight.observe((commit?.round ?? 0) + 1)
      if (this.heightStartedAt > 0) m?.heightDuration.observe((now - this.heightStartedAt) / 1000)
    }
    this.heightStartedAt = now
    this.lastCommitAt = now
    this.d.onCommitted(committed, commit, source)
    void this.d.wal.prune(block.header.height + 1).catch(() => {})
    const next = (): void => this.enqueueNewHeight(block.header.height + 1, committed.hash, block.header.time, commit)
    if (source === 'consensus' && this.d.timing.commitMs > 0) {
      const timer = setTimeout(() => { this.timers.delete(timer); next() }, this.d.timing.commitMs)
      this.timers.add(timer)
    } else {
      next()
    }
  }

  /** Applies a block decided elsewhere (block sync), then moves consensus to the next height. */
  applySynced (block: Block, commit: Commit): Promise<void> {
    return this.enqueueTask(async () => {
      await this.commit(block, commit, 'sync')
    })
  }

  hashOf (block: Block): string { return toHex(blockHash(block.header)) }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.rebroadcastTimer !== null) clearInterval(this.rebroadcastTimer)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    if (this.waitingBuild !== null) clearTimeout(this.waitingBuild.timer)
    await this.queue
  }
}
