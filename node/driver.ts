import {
  ConsensusDriver, WAL_TAG, decodeLockProof, decodeMessage, encodeLockProof, encodeMessage,
  type Commit, type ConsensusCore, type ConsensusMessage, type DriverOptions, type LockProof, type SignState, type Validator, type WalEntry
} from '../consensus/index.js'
import type { ConsensusWal } from '../storage/index.js'
import type { Application, CommittedBlock } from './app.js'
import type { Metrics } from './metrics.js'
import type { Logger } from './log.js'

/**
 * The node's side of the consensus driver: the driver itself is consensus/driver.ts (the
 * simulator runs the same one); here its ports get real timers, the fsynced signer state,
 * the on-disk WAL with tagged records, libp2p broadcast and the ledger application.
 */

export interface SignStatePersistence { save (state: SignState): Promise<void> }

export type ConsensusWalPort = Pick<ConsensusWal, 'appendTagged' | 'taggedRecords' | 'prune'>

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
  timing: DriverOptions['timing']
  head: () => { height: number, hash: Uint8Array, time: number }
  log: Logger
  metrics?: Metrics
  unsafeMutation?: DriverOptions['unsafeMutation']
}

export type NodeDriver = ConsensusDriver<CommittedBlock>

export function createNodeDriver (d: DriverDeps): NodeDriver {
  // An own message is written to the WAL and then broadcast: encode it once.
  const encoded = new WeakMap<ConsensusMessage, Uint8Array>()
  const encode = (m: ConsensusMessage): Uint8Array => {
    let bytes = encoded.get(m)
    if (bytes === undefined) { bytes = encodeMessage(m); encoded.set(m, bytes) }
    return bytes
  }
  const m = d.metrics
  return new ConsensusDriver<CommittedBlock>(d.core, {
    now: d.clock,
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: handle => { clearTimeout(handle as NodeJS.Timeout) },
    saveSignState: async state => {
      const started = performance.now()
      await d.signState.save(state)
      const ms = performance.now() - started
      if (ms > 20) d.log.debug('slow sign-state save', { ms: Math.round(ms), height: state.height, step: state.step })
    },
    walAppend: async (height, entry) => {
      const bytes = entry.kind === 'message' ? encode(entry.message) : encodeLockProof(entry.lock)
      await d.wal.appendTagged(height, WAL_TAG[entry.kind], bytes, { sync: false })
    },
    walPrune: async below => await d.wal.prune(below),
    broadcast: message => { d.broadcast(encode(message)) },
    app: {
      pendingTxs: () => d.app.mempool.size,
      buildBlock: p => d.app.buildBlock(p),
      validateBlock: (block, expect) => d.app.validateBlock(block, expect),
      commitBlock: async (block, commit) => await d.app.commitBlock(block, commit)
    },
    head: d.head,
    onCommitted: d.onCommitted,
    log: d.log,
    metrics: m === undefined
      ? undefined
      : {
          roundStep: (round, step) => { m.round.set(round); m.step.set(step) },
          proposal: () => m.proposals.inc(),
          timeout: step => m.timeouts.inc({ step }),
          evidence: () => m.evidence.inc(),
          dropped: reason => m.p2pDropped.inc({ topic: 'consensus', reason }),
          committed: (rounds, seconds) => {
            m.roundsPerHeight.observe(rounds)
            if (seconds !== null) m.heightDuration.observe(seconds)
          },
          signRefused: () => {}
        }
  }, { validators: d.validators, timing: d.timing, unsafeMutation: d.unsafeMutation })
}

/** The WAL of the height in progress: messages seen and sent, and the lock proof if we locked. */
export async function readConsensusWal (wal: ConsensusWalPort, height: number, log: Logger): Promise<{ messages: ConsensusMessage[], lockProof: LockProof | null }> {
  const messages: ConsensusMessage[] = []
  let lockProof: LockProof | null = null
  for (const [i, record] of (await wal.taggedRecords(height)).entries()) {
    try {
      const entry = decodeWalEntry(record.tag, record.payload)
      if (entry === null) { log.warn('skipping WAL record with an unknown tag', { height, record: i, tag: record.tag }); continue }
      if (entry.kind === 'message') messages.push(entry.message)
      else lockProof = entry.lock
    } catch (err) {
      log.warn('skipping undecodable WAL record', { height, record: i, tag: record.tag, err: (err as Error).message })
    }
  }
  return { messages, lockProof }
}

/** Decodes one tagged WAL record (null: a tag this version does not know). */
export function decodeWalEntry (tag: number, payload: Uint8Array): WalEntry | null {
  if (tag === WAL_TAG.message) return { kind: 'message', message: decodeMessage(payload) }
  if (tag === WAL_TAG.lockProof) return { kind: 'lockProof', lock: decodeLockProof(payload) }
  return null
}
