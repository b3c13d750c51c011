import { toHex, bytesEqual } from '../../codec/index.js'
import { ConsensusCore, type ConsensusEffect, type UnsafeMutation, type TimeoutConfig } from '../core.js'
import { ConsensusDriver, type DriverMutation, type DriverPorts, type WalEntry } from '../driver.js'
import { verifyCommit } from '../commit.js'
import { checkSign, type SignState, type LockProof } from '../signstate.js'
import { hashKey } from '../voteset.js'
import {
  blockHash, commitHash, voteSignBody, proposalSignBody, ZERO_HASH,
  type Block, type Commit, type ConsensusMessage, type ConsensusVerifier, type Validator, type Vote
} from '../types.js'
import { Prng } from './prng.js'
import { EventQueue } from './queue.js'
import { TestSigner, testVerifier } from './testsig.js'
import { buildSimBlock, simBlockValid, simTx, GENESIS_STATE_ROOT } from './app.js'

export type ByzantineKind = 'silent' | 'equivocate' | 'doubleVote' | 'randomVotes'
export const BYZANTINE_KINDS: readonly ByzantineKind[] = ['silent', 'equivocate', 'doubleVote', 'randomVotes']

/** Fault probabilities and rates of one run; randomised per seed (swarm testing) unless given. */
export interface FaultConfig {
  byzantine: ByzantineKind[]
  lossP: number
  dupP: number
  minDelayMs: number
  maxDelayMs: number
  /** Mean virtual ms between partitions during the chaos phase; 0 = none. */
  partitionEveryMs: number
  partitionMs: number
  /** Mean virtual ms between crashes of honest replicas during the chaos phase; 0 = none. */
  crashEveryMs: number
  downMs: number
  /** Max relative clock-rate error per replica: timeouts scale by a factor in [1-drift, 1+drift]. */
  drift: number
  chaosMs: number
  commitMs: number
}

export interface SimOptions {
  seed: number
  validators: number
  unsafeMutation?: UnsafeMutation
  /** A deliberately broken driver on the honest replicas (tests only). */
  driverMutation?: DriverMutation
  /** Heights every honest replica must commit after the heal. */
  heightsAfterHeal?: number
  livenessBoundMs?: number
  maxEvents?: number
  /** Stop at the first violation (default), or keep running (false), or stop only on these kinds. */
  stopOnFirstViolation?: boolean | ViolationKind[]
  faults?: Partial<FaultConfig>
  /** Receives one line per executed effect and fault (for replaying a failing seed). */
  log?: (line: string) => void
}

export type ViolationKind = 'agreement' | 'validity' | 'certificate' | 'double-sign' | 'sign-state-regression' | 'liveness'
export interface Violation { kind: ViolationKind, atMs: number, detail: string }

export interface SimResult {
  seed: number
  validators: number
  config: FaultConfig
  violations: Violation[]
  /** Lowest chain height over honest replicas at the end. */
  minHonestHeight: number
  virtualMs: number
  events: number
  messages: number
  evidence: number
  restarts: number
  signRefusals: number
  traceHash: string
  replay: string
  /** End state of each replica, for diagnosing a failed seed. */
  replicas: Array<{ index: number, byzantine: ByzantineKind | null, up: boolean, height: number, core: ReturnType<ConsensusCore['status']> | null, signState: string }>
}

type NetMessage =
  | { kind: 'consensus', message: ConsensusMessage }
  | { kind: 'syncRequest', fromHeight: number }
  | { kind: 'syncResponse', entries: Array<{ block: Block, commit: Commit }> }

type SimItem =
  | { kind: 'deliver', to: number, from: number, msg: NetMessage }
  | { kind: 'timer', to: number, epoch: number, id: number }
  | { kind: 'boot', to: number }
  | { kind: 'partition' } | { kind: 'unpartition' }
  | { kind: 'crash' } | { kind: 'restart', to: number }
  | { kind: 'heal' }

interface ChainEntry { block: Block, commit: Commit, hash: Uint8Array }

interface Replica {
  index: number
  signer: TestSigner
  byzantine: ByzantineKind | null
  up: boolean
  /** Incarnation: bumped by every crash and restart; ports and timers of an older one are dead. */
  epoch: number
  /** Volatile: the node's driver over the simulated ports, and the core it drives. */
  core: ConsensusCore
  driver: ConsensusDriver<{ hash: Uint8Array }> | null
  timers: Map<number, () => void>
  /** Durable: the sign state file (synced), the consensus WAL (unsynced appends) and the chain. */
  signState: SignState | null
  wal: Array<{ height: number, entry: WalEntry }>
  chain: ChainEntry[]
  stateRoot: Uint8Array
  drift: number
  clockOffset: number
  lastSyncRequestAt: number
  /** Armed crash: disk and network operations left before the process dies (-1: none). */
  crashAtEffect: number
  opsThisStep: number
}

const CHAIN_ID = 'medchain-sim'
const TIMEOUTS: TimeoutConfig = { proposeMs: 200, prevoteMs: 100, precommitMs: 100, deltaMs: 50 }
const REBROADCAST_MS = 400
const SYNC_BATCH = 8
const MAX_VIOLATIONS = 20

/** Cheap 2x32-bit FNV-style accumulator over numbers: the run's trace fingerprint. */
class Trace {
  private h1 = 0x811c9dc5; private h2 = 0x01000193
  mix (n: number): void {
    this.h1 = Math.imul(this.h1 ^ (n | 0), 0x01000193) >>> 0
    this.h2 = Math.imul(this.h2 ^ ((n / 0x100000000) | 0) ^ this.h1, 0x5bd1e995) >>> 0
  }

  mixBytes (b: Uint8Array): void { for (let i = 0; i < b.length; i += 4) this.mix(b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) }
  digest (): string { return this.h1.toString(16).padStart(8, '0') + this.h2.toString(16).padStart(8, '0') }
}

export function randomFaults (rng: Prng, n: number): FaultConfig {
  const f = Math.floor((n - 1) / 3)
  const byzCount = rng.chance(0.3) ? 0 : rng.int(1, f)
  const byzantine: ByzantineKind[] = []
  for (let i = 0; i < byzCount; i++) byzantine.push(rng.pick(BYZANTINE_KINDS))
  const minDelayMs = rng.int(1, 10)
  return {
    byzantine,
    lossP: rng.chance(0.5) ? rng.next() * 0.2 : 0,
    dupP: rng.chance(0.5) ? rng.next() * 0.2 : 0,
    minDelayMs,
    maxDelayMs: minDelayMs + rng.int(0, rng.chance(0.3) ? 300 : 60),
    partitionEveryMs: rng.chance(0.5) ? rng.int(500, 3000) : 0,
    partitionMs: rng.int(200, 2000),
    crashEveryMs: rng.chance(0.5) ? rng.int(500, 3000) : 0,
    downMs: rng.int(100, 2000),
    drift: rng.chance(0.5) ? rng.next() * 0.3 : 0,
    chaosMs: rng.int(1000, 4000),
    commitMs: rng.int(0, 100)
  }
}

export function replayCommand (seed: number, n: number, mutation?: UnsafeMutation, driverMutation?: DriverMutation): string {
  return `npm run sim -- --seed ${seed} --validators ${n}${mutation !== undefined ? ` --mutation ${mutation}` : ''}${driverMutation !== undefined ? ` --driver-mutation ${driverMutation}` : ''}`
}

export function runSimulation (options: SimOptions): SimResult {
  const sim = new Simulation(options)
  lastSimulation = sim
  return sim.run()
}

/** The most recent simulation object (for debugging a replayed seed from a REPL). */
export let lastSimulation: unknown = null

class Simulation {
  private readonly rng: Prng
  private readonly n: number
  private readonly cfg: FaultConfig
  private readonly replicas: Replica[] = []
  private readonly validators: Validator[]
  private readonly verifier: ConsensusVerifier
  private readonly queue = new EventQueue<SimItem>()
  private readonly trace = new Trace()
  private readonly violations: Violation[] = []
  private readonly canonical: string[] = [] // height-1 -> block hash hex
  private readonly proposed = new Set<string>()
  private readonly signed = new Map<string, string>() // honest signatures released: validator/h/r/step -> hash
  private blocked: boolean[][]
  private now = 0
  private events = 0
  private messages = 0
  private evidence = 0
  private restarts = 0
  private signRefusals = 0
  private healed = false
  private lossP: number
  private livenessTarget = -1
  private livenessDeadline = Infinity
  private done = false
  private readonly maxEvents: number

  constructor (private readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed)
    this.n = opts.validators
    this.cfg = { ...randomFaults(this.rng, this.n), ...opts.faults }
    this.lossP = this.cfg.lossP
    this.maxEvents = opts.maxEvents ?? 400_000
    const signers: TestSigner[] = []
    for (let i = 0; i < this.n; i++) signers.push(new TestSigner(this.rng.bytes(32)))
    this.validators = signers.map(s => ({ publicKey: s.publicKey, power: 1 }))
    this.verifier = testVerifier(signers)
    this.blocked = this.noBlocks()
    // Byzantine replicas take random slots so proposer rotation hits them at varied heights.
    const slots = this.rng.shuffle([...Array(this.n).keys()])
    const byzAt = new Map<number, ByzantineKind>()
    this.cfg.byzantine.forEach((k, j) => byzAt.set(slots[j], k))
    for (let i = 0; i < this.n; i++) {
      const r: Replica = {
        index: i, signer: signers[i], byzantine: byzAt.get(i) ?? null, up: true, epoch: 0,
        core: undefined as unknown as ConsensusCore, driver: null, timers: new Map(), signState: null, wal: [], chain: [], stateRoot: GENESIS_STATE_ROOT,
        drift: 1 + (this.rng.next() * 2 - 1) * this.cfg.drift, clockOffset: this.rng.int(0, 1000), lastSyncRequestAt: -Infinity, crashAtEffect: -1, opsThisStep: 0
      }
      this.replicas.push(r)
    }
  }

  private noBlocks (): boolean[][] { return Array.from({ length: this.n }, () => new Array<boolean>(this.n).fill(false)) }

  /**
   * Starts a replica from its durable state, as the node does: core from the sign state and the
   * WAL's lock proof, the node's driver over simulated ports, WAL messages of the height replayed.
   */
  private boot (r: Replica): void {
    const height = r.chain.length + 1
    const messages: ConsensusMessage[] = []
    let lockProof: LockProof | null = null
    for (const w of r.wal) {
      if (w.height !== height) continue
      if (w.entry.kind === 'message') messages.push(w.entry.message)
      else lockProof = w.entry.lock
    }
    r.core = new ConsensusCore({
      chainId: CHAIN_ID, signer: r.signer, verifier: this.verifier, timeouts: TIMEOUTS, signState: r.signState, lockProof,
      unsafeMutation: r.byzantine === null ? this.opts.unsafeMutation : undefined
    })
    r.timers = new Map()
    r.driver = new ConsensusDriver(r.core, this.ports(r), {
      validators: this.validators,
      timing: { commitMs: this.cfg.commitMs, createEmptyBlocksMs: 0, maxFutureBlockMs: Infinity, rebroadcastMs: REBROADCAST_MS, proposeMs: TIMEOUTS.proposeMs },
      unsafeMutation: r.byzantine === null ? this.opts.driverMutation : undefined
    })
    const tip = r.chain.length === 0 ? null : r.chain[r.chain.length - 1]
    this.stepped(r, () => r.driver!.start(tip === null ? null : tip.commit, messages))
  }

  /** The simulated disk, network, clock and application of one incarnation of a replica. */
  private ports (r: Replica): DriverPorts<{ hash: Uint8Array }> {
    const epoch = r.epoch
    const live = (): boolean => r.up && r.epoch === epoch
    const log = this.opts.log
    // Lines are built only when a log is attached: the campaign's hot path formats nothing.
    const note = log === undefined ? undefined : (what: string): void => { log(`${this.now} r${r.index} ${what}`) }
    /** A disk or network operation: where an armed crash strikes. */
    const op = (k: number): boolean => {
      if (!live()) return false
      if (r.crashAtEffect >= 0) {
        if (r.crashAtEffect === 0) { this.crash(r); return false }
        r.crashAtEffect--
      }
      r.opsThisStep++
      this.trace.mix(10 + k)
      return true
    }
    let timerIds = 0
    const noop = (): void => {}
    return {
      now: () => Math.floor(this.now * r.drift) + r.clockOffset + 1_700_000_000_000,
      setTimer: (fn, ms) => {
        const id = ++timerIds
        r.timers.set(id, fn)
        this.queue.push(this.now + Math.max(1, Math.ceil(ms * r.drift)), { kind: 'timer', to: r.index, epoch, id })
        return id
      },
      clearTimer: id => { r.timers.delete(id as number) },
      saveSignState: state => {
        if (!op(0)) return
        note?.(describeSignState(state))
        if (this.honest(r) && checkSign(r.signState, state.height, state.round, state.step, state.blockHash) !== 'new') {
          this.violate('sign-state-regression', `replica ${r.index} persisted ${state.height}/${state.round}/${state.step} after ${r.signState?.height}/${r.signState?.round}/${r.signState?.step}`)
        }
        r.signState = state
      },
      walAppend: (height, entry) => { if (op(1)) r.wal.push({ height, entry }) },
      walPrune: below => { if (live()) r.wal = r.wal.filter(w => w.height >= below) },
      broadcast: message => {
        if (!op(2)) return
        note?.(describeMessage(message))
        this.onBroadcast(r, message)
      },
      app: {
        pendingTxs: () => 1,
        buildBlock: p => {
          note?.(`buildBlock ${p.height}`)
          const count = this.rng.int(0, 3)
          const txs: Uint8Array[] = []
          for (let i = 0; i < count; i++) txs.push(simTx(r.index, p.height, r.core.status().round, i, this.rng.u32()))
          return buildSimBlock({ chainId: CHAIN_ID, height: p.height, time: p.time, proposer: p.proposer, prevHash: p.prevHash, lastCommit: p.lastCommit, lastCommitHash: p.lastCommitHash, prevStateRoot: r.stateRoot, txs })
        },
        validateBlock: block => block.header.height === r.chain.length + 1 && simBlockValid(block, r.stateRoot) ? null : 'stateRoot',
        commitBlock: (block, commit) => {
          if (!live() || commit === null) return { hash: ZERO_HASH }
          const hash = commit.blockHash // the certificate's hash: checked against the block by applyCommit
          note?.(`COMMIT ${block.header.height} ${toHex(hash).slice(0, 8)} round ${commit.round}`)
          this.applyCommit(r, block, commit, hash)
          return { hash }
        }
      },
      head: () => {
        const tip = r.chain.length === 0 ? null : r.chain[r.chain.length - 1]
        return tip === null ? { height: 0, hash: ZERO_HASH, time: 0 } : { height: r.chain.length, hash: tip.hash, time: tip.block.header.time }
      },
      onCommitted: noop,
      log: { debug: noop, warn: noop, error: (msg, fields) => { if (live()) note?.(`ERROR ${msg} ${JSON.stringify(fields)}`) } },
      metrics: {
        roundStep: noop, proposal: noop, timeout: noop, dropped: noop, committed: noop,
        evidence: () => { this.evidence++ },
        signRefused: code => { this.signRefusals++; note?.(`signRefused ${code}`) }
      }
    }
  }

  /** Runs one input through a replica's driver; an armed crash that did not strike mid-way strikes after it. */
  private stepped (r: Replica, fn: () => void): void {
    r.opsThisStep = 0
    fn()
    if (r.crashAtEffect >= 0 && r.opsThisStep > 0 && r.up) this.crash(r)
  }

  private honest (r: Replica): boolean { return r.byzantine === null }

  private violate (kind: ViolationKind, detail: string): void {
    if (this.violations.length < MAX_VIOLATIONS) this.violations.push({ kind, atMs: this.now, detail })
    const stop = this.opts.stopOnFirstViolation ?? true
    if (stop === true || (Array.isArray(stop) && stop.includes(kind))) this.done = true
  }

  run (): SimResult {
    for (const r of this.replicas) this.queue.push(this.rng.int(0, 50), { kind: 'boot', to: r.index })
    if (this.cfg.partitionEveryMs > 0) this.queue.push(this.rng.int(0, this.cfg.partitionEveryMs), { kind: 'partition' })
    if (this.cfg.crashEveryMs > 0) this.queue.push(this.rng.int(0, this.cfg.crashEveryMs), { kind: 'crash' })
    this.queue.push(this.cfg.chaosMs, { kind: 'heal' })
    const bound = this.opts.livenessBoundMs ?? 60_000
    while (!this.done) {
      const next = this.queue.pop()
      if (next === undefined) { this.violate('liveness', 'event queue drained'); break }
      this.now = next.time
      if (this.healed && this.now > this.livenessDeadline) {
        this.violate('liveness', `honest replicas did not reach height ${this.livenessTarget} within ${bound} ms after heal (min height ${this.minHonestHeight()})`)
        break
      }
      if (++this.events > this.maxEvents) { this.violate('liveness', `event budget ${this.maxEvents} exhausted at height ${this.minHonestHeight()}`); break }
      this.dispatch(next.item)
    }
    return {
      seed: this.opts.seed, validators: this.n, config: this.cfg, violations: this.violations,
      minHonestHeight: this.minHonestHeight(), virtualMs: this.now, events: this.events, messages: this.messages,
      evidence: this.evidence, restarts: this.restarts, signRefusals: this.signRefusals, traceHash: this.trace.digest(),
      replay: replayCommand(this.opts.seed, this.n, this.opts.unsafeMutation, this.opts.driverMutation),
      replicas: this.replicas.map(r => ({
        index: r.index, byzantine: r.byzantine, up: r.up, height: r.chain.length, core: r.core?.status() ?? null,
        signState: r.signState === null ? 'none' : `${r.signState.height}/${r.signState.round}/${r.signState.step}`
      }))
    }
  }

  private minHonestHeight (): number {
    let m = Infinity
    for (const r of this.replicas) if (this.honest(r)) m = Math.min(m, r.chain.length)
    return m
  }

  private dispatch (item: SimItem): void {
    switch (item.kind) {
      case 'deliver': {
        const r = this.replicas[item.to]
        if (!r.up) return
        this.trace.mix(1); this.trace.mix(this.now); this.trace.mix(item.to); this.trace.mix(item.from)
        this.deliver(r, item.from, item.msg)
        return
      }
      case 'timer': {
        const r = this.replicas[item.to]
        if (!r.up || r.epoch !== item.epoch) return
        const fn = r.timers.get(item.id)
        if (fn === undefined) return
        r.timers.delete(item.id)
        this.trace.mix(2); this.trace.mix(this.now); this.trace.mix(item.to)
        this.stepped(r, fn)
        return
      }
      case 'boot': this.boot(this.replicas[item.to]); return
      case 'partition': this.startPartition(); return
      case 'unpartition': if (!this.healed) this.blocked = this.noBlocks(); return
      case 'crash': this.crashOne(); return
      case 'restart': this.restart(this.replicas[item.to]); return
      case 'heal': this.heal(); return
    }
  }

  // ------------------------------------------------------------------ faults

  private startPartition (): void {
    if (this.healed) return
    this.blocked = this.noBlocks()
    const mode = this.rng.int(0, 2)
    if (mode === 0) { // two sides
      const side = this.replicas.map(() => this.rng.chance(0.5))
      for (let a = 0; a < this.n; a++) for (let b = 0; b < this.n; b++) this.blocked[a][b] = side[a] !== side[b]
    } else if (mode === 1) { // isolate one
      const x = this.rng.int(0, this.n - 1)
      for (let a = 0; a < this.n; a++) { this.blocked[a][x] = a !== x; this.blocked[x][a] = a !== x }
    } else { // asymmetric: random directed links cut
      for (let a = 0; a < this.n; a++) for (let b = 0; b < this.n; b++) this.blocked[a][b] = a !== b && this.rng.chance(0.3)
    }
    this.trace.mix(3); this.trace.mix(this.now); this.trace.mix(mode)
    this.queue.push(this.now + this.rng.int(this.cfg.partitionMs / 2, this.cfg.partitionMs), { kind: 'unpartition' })
    this.queue.push(this.now + this.rng.int(this.cfg.partitionEveryMs / 2, this.cfg.partitionEveryMs * 3 / 2), { kind: 'partition' })
  }

  private crashOne (): void {
    if (this.healed) return
    const candidates = this.replicas.filter(r => r.up && this.honest(r))
    if (candidates.length > 0) {
      const r = this.rng.pick(candidates)
      // Crash now, or in the middle of the next batch of effects (after k of them ran).
      if (this.rng.chance(0.5)) r.crashAtEffect = this.rng.int(0, 3)
      else this.crash(r)
    }
    this.queue.push(this.now + this.rng.int(this.cfg.crashEveryMs / 2, this.cfg.crashEveryMs * 3 / 2), { kind: 'crash' })
  }

  private crash (r: Replica): void {
    if (!r.up) return
    r.up = false
    r.epoch++
    r.crashAtEffect = -1
    r.driver = null
    // Appends are not synced: the record being written when the process died may be torn,
    // and the WAL reader cuts a torn tail (storage/wal.ts), so it is gone.
    if (r.wal.length > 0 && this.rng.chance(0.5)) r.wal.pop()
    this.trace.mix(4); this.trace.mix(this.now); this.trace.mix(r.index)
    if (!this.healed) this.queue.push(this.now + this.rng.int(this.cfg.downMs / 2, this.cfg.downMs), { kind: 'restart', to: r.index })
  }

  private restart (r: Replica): void {
    if (r.up) return
    r.up = true
    r.epoch++
    r.lastSyncRequestAt = -Infinity
    this.restarts++
    // Everything volatile is gone: a fresh core and driver from the durable sign state, WAL and chain.
    this.trace.mix(5); this.trace.mix(this.now); this.trace.mix(r.index)
    this.boot(r)
  }

  private heal (): void {
    this.healed = true
    this.blocked = this.noBlocks()
    this.lossP = 0 // the heal ends message loss; the reported config keeps the chaos-phase value
    for (const r of this.replicas) { r.crashAtEffect = -1; if (!r.up) this.restart(r) }
    let max = 0
    for (const r of this.replicas) if (this.honest(r)) max = Math.max(max, r.chain.length)
    this.livenessTarget = max + (this.opts.heightsAfterHeal ?? 2)
    this.livenessDeadline = this.now + (this.opts.livenessBoundMs ?? 60_000)
  }

  // ------------------------------------------------------------------ network

  private send (from: number, to: number, msg: NetMessage): void {
    if (from === to || this.blocked[from][to]) return
    if (this.rng.chance(this.lossP)) return
    this.messages++
    this.queue.push(this.now + this.rng.int(this.cfg.minDelayMs, this.cfg.maxDelayMs), { kind: 'deliver', to, from, msg })
    if (this.rng.chance(this.cfg.dupP)) this.queue.push(this.now + this.rng.int(this.cfg.minDelayMs, this.cfg.maxDelayMs * 2), { kind: 'deliver', to, from, msg })
  }

  private broadcastFrom (r: Replica, message: ConsensusMessage, targets?: number[]): void {
    const list = targets ?? [...this.replicas.keys()]
    for (const to of list) this.send(r.index, to, { kind: 'consensus', message })
  }

  private deliver (r: Replica, from: number, msg: NetMessage): void {
    if (msg.kind === 'consensus') {
      const h = msg.message.type === 'vote' ? msg.message.vote.height : msg.message.proposal.height
      if (h > r.chain.length + 1 && this.now - r.lastSyncRequestAt > 200) {
        r.lastSyncRequestAt = this.now
        this.send(r.index, from, { kind: 'syncRequest', fromHeight: r.chain.length + 1 })
      }
      const driver = r.driver
      if (driver !== null) this.stepped(r, () => driver.receive(msg.message))
    } else if (msg.kind === 'syncRequest') {
      if (r.byzantine === 'silent') return
      const entries = r.chain.slice(msg.fromHeight - 1, msg.fromHeight - 1 + SYNC_BATCH).map(e => ({ block: e.block, commit: e.commit }))
      if (entries.length > 0) this.send(r.index, from, { kind: 'syncResponse', entries })
    } else {
      this.applySync(r, msg.entries)
    }
  }

  /** Block sync: accept a block only with a valid commit certificate that links to our tip. */
  private applySync (r: Replica, entries: Array<{ block: Block, commit: Commit }>): void {
    for (const { block, commit } of entries) {
      const driver = r.driver
      if (driver === null || !r.up) return
      const h = block.header.height
      if (h !== r.chain.length + 1) continue
      const hash = blockHash(block.header)
      const tip = r.chain.length === 0 ? ZERO_HASH : r.chain[r.chain.length - 1].hash
      if (!bytesEqual(block.header.prevHash, tip)) return
      try { verifyCommit(commit, this.validators, CHAIN_ID, this.verifier, { height: h, blockHash: hash }) } catch { return }
      if (!simBlockValid(block, r.stateRoot)) return
      // The node's path: the driver commits it on its queue and moves consensus to the next height.
      this.stepped(r, () => { driver.applySynced(block, commit).catch(() => {}) })
    }
  }

  // ------------------------------------------------------------------ byzantine behaviour and checks

  private onBroadcast (r: Replica, message: ConsensusMessage): void {
    if (message.type === 'proposal') this.proposed.add(hashKey(message.proposal.blockHash))
    if (this.honest(r)) {
      this.recordSignature(r, message)
      this.broadcastFrom(r, message)
      return
    }
    const own = (message.type === 'vote' ? message.vote.validatorIndex : message.proposal.validatorIndex) === r.index
    if (!own) { if (r.byzantine !== 'silent') this.broadcastFrom(r, message); return }
    switch (r.byzantine) {
      case 'silent': return
      case 'equivocate': {
        const order = this.rng.shuffle([...this.replicas.keys()])
        const half = Math.floor(order.length / 2)
        this.broadcastFrom(r, message, order.slice(0, half))
        this.broadcastFrom(r, this.conflicting(r, message), order.slice(half))
        return
      }
      case 'doubleVote':
        this.broadcastFrom(r, message)
        if (message.type === 'vote') this.broadcastFrom(r, this.conflicting(r, message))
        return
      case 'randomVotes':
        this.broadcastFrom(r, message.type === 'vote' ? this.conflicting(r, message) : message)
    }
  }

  /** A validly signed message that conflicts with `m`: another block (valid for the app) or another vote. */
  private conflicting (r: Replica, m: ConsensusMessage): ConsensusMessage {
    if (m.type === 'proposal') {
      const b = m.block
      const txs = [...b.txs, simTx(r.index, b.header.height, m.proposal.round, 99, this.rng.u32())]
      const block = buildSimBlock({
        chainId: CHAIN_ID, height: b.header.height, time: b.header.time, proposer: b.header.proposer, prevHash: b.header.prevHash,
        lastCommit: b.lastCommit, lastCommitHash: commitHash(b.lastCommit), prevStateRoot: r.stateRoot, txs
      })
      const hash = blockHash(block.header)
      this.proposed.add(hashKey(hash))
      const p = m.proposal
      const signature = r.signer.sign('proposal', CHAIN_ID, proposalSignBody(p.height, p.round, p.polRound, hash))
      return { type: 'proposal', proposal: { ...p, blockHash: hash, signature }, block }
    }
    const v = m.vote
    const hash = v.blockHash === null || this.rng.chance(0.5) ? this.rng.bytes(32) : null
    const vote: Vote = { ...v, blockHash: hash, signature: r.signer.sign(v.type, CHAIN_ID, voteSignBody(v.height, v.round, hash)) }
    return { type: 'vote', vote }
  }

  private recordSignature (r: Replica, m: ConsensusMessage): void {
    const signer = m.type === 'vote' ? m.vote.validatorIndex : m.proposal.validatorIndex
    if (signer !== r.index) return // a relayed message of another validator
    const key = m.type === 'vote'
      ? `${r.index}/${m.vote.height}/${m.vote.round}/${m.vote.type}`
      : `${r.index}/${m.proposal.height}/${m.proposal.round}/proposal`
    const h = hashKey(m.type === 'vote' ? m.vote.blockHash : m.proposal.blockHash)
    const prev = this.signed.get(key)
    if (prev === undefined) this.signed.set(key, h)
    else if (prev !== h) this.violate('double-sign', `honest replica ${r.index} signed ${key} for ${prev.slice(0, 12)} and ${h.slice(0, 12)}`)
  }

  /** Appends a decided block to a replica's durable chain and checks agreement, validity, certificate. */
  private applyCommit (r: Replica, block: Block, commit: Commit, hash: Uint8Array): boolean {
    const h = block.header.height
    if (h !== r.chain.length + 1) return false
    const key = toHex(hash)
    this.trace.mix(6); this.trace.mix(r.index); this.trace.mix(h); this.trace.mixBytes(hash.subarray(0, 8))
    if (this.honest(r)) {
      const agreed = this.canonical[h - 1]
      if (agreed === undefined) this.canonical[h - 1] = key
      else if (agreed !== key) this.violate('agreement', `height ${h}: replica ${r.index} committed ${key.slice(0, 12)}, others ${agreed.slice(0, 12)}`)
      if (!this.proposed.has(key)) this.violate('validity', `height ${h}: replica ${r.index} committed a block nobody proposed`)
      if (!simBlockValid(block, r.stateRoot)) this.violate('validity', `height ${h}: replica ${r.index} committed a block the application rejects`)
      try { verifyCommit(commit, this.validators, CHAIN_ID, this.verifier, { height: h, blockHash: hash }) } catch (err) {
        this.violate('certificate', `height ${h}: replica ${r.index}: ${(err as Error).message}`)
      }
    }
    r.chain.push({ block, commit, hash })
    r.stateRoot = block.header.stateRoot
    if (this.healed && this.minHonestHeight() >= this.livenessTarget) this.done = true
    return true
  }
}

function short (h: Uint8Array | null): string { return h === null ? 'nil' : toHex(h).slice(0, 8) }

function describeSignState (st: SignState): string {
  return `persist ${st.height}/${st.round}/${st.step} ${short(st.blockHash)} lock=${st.lockedRound}`
}

function describeMessage (m: ConsensusMessage): string {
  return m.type === 'vote'
    ? `broadcast ${m.vote.type} v${m.vote.validatorIndex} ${m.vote.height}/${m.vote.round} ${short(m.vote.blockHash)}`
    : `broadcast proposal v${m.proposal.validatorIndex} ${m.proposal.height}/${m.proposal.round} pol=${m.proposal.polRound} ${short(m.proposal.blockHash)}`
}

export function describeEffect (e: ConsensusEffect): string {
  const short = (h: Uint8Array | null): string => h === null ? 'nil' : toHex(h).slice(0, 8)
  switch (e.type) {
    case 'broadcast': {
      const m = e.message
      return m.type === 'vote'
        ? `broadcast ${m.vote.type} v${m.vote.validatorIndex} ${m.vote.height}/${m.vote.round} ${short(m.vote.blockHash)}`
        : `broadcast proposal v${m.proposal.validatorIndex} ${m.proposal.height}/${m.proposal.round} pol=${m.proposal.polRound} ${short(m.proposal.blockHash)}`
    }
    case 'persistSignState': return `persist ${e.state.height}/${e.state.round}/${e.state.step} ${short(e.state.blockHash)} lock=${e.state.lockedRound}`
    case 'persistLock': return `persistLock ${e.lock.height}/${e.lock.round} ${short(blockHash(e.lock.block.header))}`
    case 'scheduleTimeout': return `timeout ${e.step} ${e.height}/${e.round} in ${e.ms}`
    case 'buildBlock': return `buildBlock ${e.height}/${e.round}`
    case 'validateBlock': return `validate ${e.height}/${e.round} ${short(e.blockHash)}`
    case 'commit': return `COMMIT ${e.block.header.height} ${short(e.commit.blockHash)} round ${e.commit.round}`
    case 'evidence': return `evidence v${e.evidence.voteA.validatorIndex} ${e.evidence.voteA.type} ${e.evidence.voteA.height}/${e.evidence.voteA.round}`
    case 'signRefused': return `signRefused ${e.code} ${e.height}/${e.round}/${e.step}`
    case 'messageRejected': return `rejected ${e.code} ${e.detail}`
  }
}
