import { toHex } from '../codec/index.js'
import type { ConsensusCore, ConsensusEffect, ConsensusEvent, RoundStep } from './core.js'
import type { LockProof, SignState } from './signstate.js'
import { ConsensusError, type Block, type Commit, type ConsensusMessage, type Validator } from './types.js'

/**
 * The consensus driver over ports. It feeds the pure core one event at a time and executes
 * its effects in order; everything it touches (clock, timers, disk, network, application)
 * comes in through the ports below, so the node (real disk, libp2p, setTimeout) and the
 * simulator (simulated disk with torn writes, simulated network, virtual time) run this
 * same code. It does no I/O itself and reads no clock: determinism holds when the ports are
 * deterministic.
 *
 * A port may answer synchronously or with a promise. Synchronous ports (the simulator) run a
 * whole event, effects included, inside one call; a promise (an fsync) suspends the queue
 * until it settles. Either way the one rule that matters most holds: a persistSignState effect
 * completes before any later effect, so no signature leaves before what it signs is durable
 * (CometBFT privval, etcd-raft's Ready loop).
 */

export type MaybePromise<T> = T | Promise<T>

/** What the consensus WAL holds for the height in progress; the host encodes each with its tag. */
export type WalEntry =
  | { kind: 'message', message: ConsensusMessage }
  | { kind: 'lockProof', lock: LockProof }

/** Record tags of the consensus WAL (first payload byte): a record says what it is. */
export const WAL_TAG = { message: 1, lockProof: 2 } as const

export interface DriverPorts<C extends { hash: Uint8Array }> {
  /** Wall-clock ms (block time and durations). The node injects a skewable clock, the sim virtual time. */
  now: () => number
  setTimer: (fn: () => void, ms: number) => unknown
  clearTimer: (handle: unknown) => void
  /** Durable (fsync) before it returns or resolves. */
  saveSignState: (state: SignState) => MaybePromise<void>
  /** Not synced: a lost record is either re-sent by a peer or covered by the sign state. */
  walAppend: (height: number, entry: WalEntry) => MaybePromise<void>
  walPrune: (belowHeight: number) => MaybePromise<unknown>
  broadcast: (message: ConsensusMessage) => void
  app: {
    pendingTxs: () => number
    buildBlock: (p: { height: number, proposer: Uint8Array, prevHash: Uint8Array, lastCommit: Commit | null, lastCommitHash: Uint8Array, time: number }) => Block
    validateBlock: (block: Block, expect: { height: number, prevHash: Uint8Array, prevTime: number, maxFutureMs: number, now: number }) => string | null
    commitBlock: (block: Block, commit: Commit | null) => MaybePromise<C>
  }
  /** The stored chain head (height 0: genesis hash zeros and genesis time). */
  head: () => { height: number, hash: Uint8Array, time: number }
  onCommitted: (c: C, commit: Commit | null, source: 'consensus' | 'sync') => void
  log: DriverLog
  metrics?: DriverMetrics
}

export interface DriverLog {
  debug: (msg: string, fields?: Record<string, unknown>) => void
  warn: (msg: string, fields?: Record<string, unknown>) => void
  error: (msg: string, fields?: Record<string, unknown>) => void
}

export interface DriverMetrics {
  roundStep: (round: number, step: number) => void
  proposal: () => void
  timeout: (step: RoundStep) => void
  evidence: () => void
  dropped: (reason: string) => void
  committed: (rounds: number, heightSeconds: number | null) => void
  signRefused: (code: string) => void
}

export interface DriverOptions {
  validators: Validator[]
  timing: { commitMs: number, createEmptyBlocksMs: number, maxFutureBlockMs: number, rebroadcastMs: number, proposeMs: number }
  /**
   * Deliberately unsafe driver, for tests and the simulator only: 'send-before-persist'
   * executes each persistSignState after the broadcast that follows it, so a crash between
   * the two releases a signature the restarted validator does not know it made.
   */
  unsafeMutation?: DriverMutation
}

export type DriverMutation = 'send-before-persist'

const STEP_NUMBER = { propose: 0, prevote: 1, precommit: 2 } as const
const MAX_QUEUED_EVENTS = 20_000

interface Task { run: () => MaybePromise<void>, resolve?: () => void, reject?: (err: unknown) => void }

function isPromise (x: unknown): x is Promise<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function'
}

export class ConsensusDriver<C extends { hash: Uint8Array }> {
  private tasks: Array<Task | undefined> = []
  private next = 0
  private running = false
  /** Settles when the task running asynchronously (waiting on a port) is done. */
  private inflight: Promise<void> | null = null
  private queued = 0
  private readonly timers = new Set<unknown>()
  private stopped = false
  private heightStartedAt = 0
  private lastCommitAt = 0
  private waitingBuild: { timer: unknown, effect: Extract<ConsensusEffect, { type: 'buildBlock' }> } | null = null
  private fatal: Error | null = null
  private rebroadcastTimer: unknown = null
  private lastProgress = ''

  constructor (private readonly core: ConsensusCore, private readonly p: DriverPorts<C>, private readonly o: DriverOptions) {}

  get failure (): Error | null { return this.fatal }

  /** Enters the height after the stored head; replays this height's WAL messages (own and received). */
  start (lastCommit: Commit | null, walMessages: ConsensusMessage[]): void {
    const head = this.p.head()
    this.lastCommitAt = this.p.now()
    this.enqueueNewHeight(head.height + 1, head.hash, head.time, lastCommit)
    for (const message of walMessages) this.enqueue({ type: 'message', message }, true)
    this.armRebroadcast()
  }

  /**
   * Messages sent while a peer was down are lost; when a round makes no progress for a tick,
   * re-send our own votes and proposal (and the current proposal) so the round can complete.
   */
  private armRebroadcast (): void {
    this.rebroadcastTimer = this.p.setTimer(() => {
      if (this.stopped) return
      const st = this.core.status()
      const now = `${st.height}/${st.round}/${st.step}/${String(st.decided)}`
      if (now === this.lastProgress) this.rebroadcast()
      this.lastProgress = now
      this.armRebroadcast()
    }, this.o.timing.rebroadcastMs)
  }

  /** Re-sends this validator's messages of the current height (also when a peer connects). */
  rebroadcast (): void {
    if (this.queued < 100) this.enqueue({ type: 'rebroadcast' }, true)
  }

  private enqueueNewHeight (height: number, prevHash: Uint8Array, prevTime: number, lastCommit: Commit | null): void {
    this.enqueue({ type: 'newHeight', height, validators: this.o.validators, prevBlockHash: prevHash, prevBlockTime: prevTime, lastCommit }, true)
  }

  /** Queues a network message; dropped (and counted) when the queue is over its bound. */
  receive (message: ConsensusMessage): void {
    if (this.stopped || this.fatal !== null) return
    if (this.queued >= MAX_QUEUED_EVENTS) { this.p.metrics?.dropped('queue_full'); return }
    const height = message.type === 'vote' ? message.vote.height : message.proposal.height
    // Kept for a restart within this height; a lost record is sent again by its author's rebroadcast.
    if (height > this.p.head().height) this.walAppend(height, { kind: 'message', message })
    this.enqueue({ type: 'message', message })
  }

  /** A transaction arrived: a proposer waiting for transactions builds now. */
  notifyTxs (): void {
    if (this.waitingBuild === null) return
    const { timer, effect } = this.waitingBuild
    this.p.clearTimer(timer)
    this.waitingBuild = null
    // A failure halts the driver (see halt); nobody awaits this task.
    this.enqueueTask(() => { this.build(effect) }).catch(() => {})
  }

  private enqueue (event: ConsensusEvent, force = false): void {
    if (this.stopped) return
    if (!force && this.queued >= MAX_QUEUED_EVENTS) return
    this.push({ run: () => this.process(event) })
  }

  /** Runs a task on the driver's serial queue (block sync uses it); resolves when it ran. */
  enqueueTask (run: () => MaybePromise<void>): Promise<void> {
    return new Promise((resolve, reject) => { this.push({ run, resolve, reject }) })
  }

  private push (task: Task): void {
    this.tasks.push(task)
    this.queued++
    this.pump()
  }

  /** Runs queued tasks in order: inline while ports answer synchronously, suspended on a promise. */
  private pump (): void {
    if (this.running) return
    this.running = true
    while (this.next < this.tasks.length) {
      const task = this.tasks[this.next]!
      this.tasks[this.next++] = undefined
      this.queued--
      if (this.stopped || this.fatal !== null) { task.resolve?.(); continue }
      let out: MaybePromise<void>
      try { out = task.run() } catch (err) { this.halt(err); task.reject?.(err); continue }
      if (isPromise(out)) {
        this.inflight = out.then(() => { task.resolve?.() }, err => { this.halt(err); task.reject?.(err) }).then(() => {
          this.inflight = null
          this.running = false
          this.pump()
        })
        return
      }
      task.resolve?.()
    }
    this.tasks = []
    this.next = 0
    this.running = false
  }

  private halt (err: unknown): void {
    if (this.fatal !== null) return
    this.fatal = err instanceof Error ? err : new Error(String(err))
    this.p.log.error('consensus driver halted', { err: this.fatal.stack ?? String(err) })
  }

  private process (event: ConsensusEvent): MaybePromise<void> {
    const effects = this.core.handle(event)
    if (this.o.unsafeMutation === 'send-before-persist') sendBeforePersist(effects)
    return this.runEffects(effects, 0)
  }

  private runEffects (effects: ConsensusEffect[], from: number): MaybePromise<void> {
    for (let i = from; i < effects.length; i++) {
      if (this.stopped) return
      const out = this.execute(effects[i])
      if (out !== undefined) return out.then(() => this.runEffects(effects, i + 1))
    }
    if (this.p.metrics === undefined) return
    const st = this.core.status()
    this.p.metrics.roundStep(st.round, st.decided ? 3 : STEP_NUMBER[st.step])
  }

  private walAppend (height: number, entry: WalEntry): void {
    try {
      const out = this.p.walAppend(height, entry)
      if (isPromise(out)) out.catch(err => this.p.log.warn('wal append failed', { err: String(err) }))
    } catch (err) {
      this.p.log.warn('wal append failed', { err: String(err) })
      throw err
    }
  }

  private execute (e: ConsensusEffect): Promise<void> | undefined {
    switch (e.type) {
      case 'persistSignState': {
        const out = this.p.saveSignState(e.state)
        return isPromise(out) ? out : undefined
      }
      case 'persistLock':
        // The locked block and its +2/3 prevotes, so a restart can re-propose and prove the
        // lock. Safety does not hang on it (the lock itself is in the synced sign state), so it
        // is written without an fsync that would stall the vote behind it.
        this.walAppend(e.lock.height, { kind: 'lockProof', lock: e.lock })
        return
      case 'broadcast': {
        const height = e.message.type === 'vote' ? e.message.vote.height : e.message.proposal.height
        // Own messages go to the WAL too, so a restart can re-send them; the sign state
        // (synced before signing) is what prevents a conflicting signature, so no fsync here.
        this.walAppend(height, { kind: 'message', message: e.message })
        this.p.broadcast(e.message)
        if (e.message.type === 'proposal') this.p.metrics?.proposal()
        return
      }
      case 'scheduleTimeout': {
        const timer = this.p.setTimer(() => {
          this.timers.delete(timer)
          this.p.metrics?.timeout(e.step)
          this.enqueue({ type: 'timeout', height: e.height, round: e.round, step: e.step }, true)
        }, e.ms)
        this.timers.add(timer)
        return
      }
      case 'buildBlock': {
        // Without transactions, wait (up to createEmptyBlocksMs after the last commit) for some.
        // Never wait past half the propose timeout, or the others would give up on this proposal.
        const emptyWait = Math.min(this.o.timing.createEmptyBlocksMs, this.o.timing.proposeMs / 2)
        const wait = this.p.app.pendingTxs() > 0 ? 0 : this.lastCommitAt + emptyWait - this.p.now()
        if (wait <= 0) { this.build(e); return }
        const timer = this.p.setTimer(() => {
          if (this.waitingBuild?.timer !== timer) return
          this.waitingBuild = null
          this.enqueueTask(() => { this.build(e) }).catch(() => {})
        }, wait)
        this.waitingBuild = { timer, effect: e }
        return
      }
      case 'validateBlock': {
        const head = this.p.head()
        const started = this.p.now()
        const reason = this.p.app.validateBlock(e.block, { height: head.height + 1, prevHash: head.hash, prevTime: head.time, maxFutureMs: this.o.timing.maxFutureBlockMs, now: started })
        this.p.log.debug('block validated', { height: e.height, round: e.round, txs: e.block.txs.length, ms: this.p.now() - started, valid: reason === null })
        if (reason !== null) this.p.log.warn('proposed block invalid', { height: e.height, round: e.round, hash: toHex(e.blockHash), reason })
        this.enqueue({ type: 'blockValidated', height: e.height, blockHash: e.blockHash, valid: reason === null }, true)
        return
      }
      case 'commit':
        return toPromise(this.commit(e.block, e.commit, 'consensus'))
      case 'evidence':
        this.p.metrics?.evidence()
        this.p.log.warn('evidence of conflicting votes', { validator: e.evidence.voteA.validatorIndex, height: e.evidence.voteA.height, round: e.evidence.voteA.round, type: e.evidence.voteA.type })
        return
      case 'signRefused':
        this.p.metrics?.signRefused(e.code)
        this.p.log.error('refused to sign: it would conflict with what this validator already signed', { code: e.code, height: e.height, round: e.round, step: e.step })
        return
      case 'messageRejected':
        this.p.metrics?.dropped(e.code)
        this.p.log.debug('consensus message rejected', { code: e.code, detail: e.detail })
    }
  }

  private build (e: Extract<ConsensusEffect, { type: 'buildBlock' }>): void {
    if (this.core.status().height !== e.height) return
    const started = this.p.now()
    const time = Math.max(started, e.minTime)
    const block = this.p.app.buildBlock({ height: e.height, proposer: e.proposer, prevHash: e.prevHash, lastCommit: e.lastCommit, lastCommitHash: e.lastCommitHash, time })
    this.p.log.debug('block built', { height: e.height, round: e.round, txs: block.txs.length, ms: this.p.now() - started })
    this.enqueue({ type: 'blockBuilt', height: e.height, round: e.round, block }, true)
  }

  private commit (block: Block, commit: Commit | null, source: 'consensus' | 'sync'): MaybePromise<void> {
    // Block sync and consensus can both decide the same height; the first one to land wins
    // and already moved consensus on (newHeight is queued), the other is a no-op.
    const head = this.p.head()
    if (block.header.height !== head.height + 1) return
    if (this.waitingBuild !== null) { this.p.clearTimer(this.waitingBuild.timer); this.waitingBuild = null }
    this.clearTimers()
    const started = this.p.now()
    const out = this.p.app.commitBlock(block, commit)
    return isPromise(out) ? out.then(c => { this.afterCommit(c, block, commit, source, started) }) : this.afterCommit(out, block, commit, source, started)
  }

  private afterCommit (committed: C, block: Block, commit: Commit | null, source: 'consensus' | 'sync', started: number): void {
    const height = block.header.height
    if (this.p.head().height !== height) throw new ConsensusError('DRIVER_INVARIANT', `commitBlock returned but the head is ${this.p.head().height}, not ${height}`, height)
    const now = this.p.now()
    this.p.log.debug('block committed', { height, round: commit?.round, txs: block.txs.length, source, commitMs: now - started, heightMs: this.heightStartedAt > 0 ? now - this.heightStartedAt : null, queued: this.queued })
    if (source === 'consensus') this.p.metrics?.committed((commit?.round ?? 0) + 1, this.heightStartedAt > 0 ? (now - this.heightStartedAt) / 1000 : null)
    this.heightStartedAt = now
    this.lastCommitAt = now
    this.p.onCommitted(committed, commit, source)
    try {
      const pruned = this.p.walPrune(height + 1)
      if (isPromise(pruned)) pruned.catch(err => this.p.log.warn('wal prune failed', { err: String(err) }))
    } catch (err) { this.p.log.warn('wal prune failed', { err: String(err) }) }
    const next = (): void => this.enqueueNewHeight(height + 1, committed.hash, block.header.time, commit)
    if (source === 'consensus' && this.o.timing.commitMs > 0) {
      const timer = this.p.setTimer(() => { this.timers.delete(timer); next() }, this.o.timing.commitMs)
      this.timers.add(timer)
    } else {
      next()
    }
  }

  /** Applies a block decided elsewhere (block sync), then moves consensus to the next height. */
  applySynced (block: Block, commit: Commit): Promise<void> {
    return this.enqueueTask(() => this.commit(block, commit, 'sync'))
  }

  private clearTimers (): void {
    for (const t of this.timers) this.p.clearTimer(t)
    this.timers.clear()
  }

  /** Stops timers and the queue; resolves when a task waiting on a port has settled. */
  async stop (): Promise<void> {
    this.stopped = true
    if (this.rebroadcastTimer !== null) this.p.clearTimer(this.rebroadcastTimer)
    this.clearTimers()
    if (this.waitingBuild !== null) this.p.clearTimer(this.waitingBuild.timer)
    while (this.inflight !== null) await this.inflight
  }
}

function toPromise (x: MaybePromise<void>): Promise<void> | undefined {
  return isPromise(x) ? x : undefined
}

/** The 'send-before-persist' mutation: each sign-state persist moves behind the broadcast after it. */
function sendBeforePersist (effects: ConsensusEffect[]): void {
  for (let i = 0; i < effects.length; i++) {
    if (effects[i].type !== 'persistSignState') continue
    const j = effects.findIndex((e, k) => k > i && e.type === 'broadcast')
    if (j < 0) continue
    const [persist] = effects.splice(i, 1)
    effects.splice(j, 0, persist)
    i = j
  }
}
