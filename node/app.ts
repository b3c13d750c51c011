import { bytesEqual, encode, toHex } from '../codec/index.js'
import { encodeSmtNode, merkleRoot, sha256, type SmtNodeWrite } from '../crypto/index.js'
import { blockHash, encodeBlock, encodeCommit, ZERO_HASH, type Block, type Commit } from '../consensus/index.js'
import {
  decodeTx, executeBlock, expectedNonce, verifyTxSignature, LedgerError,
  type BlockContext, type BlockExecution, type DecodedTx, type LedgerEvent, type LedgerState, type Write
} from '../ledger/index.js'
import type { ChainStore } from '../storage/index.js'
import { NodeError } from './errors.js'
import { Mempool, VerifiedTxCache, type MempoolTx } from './mempool.js'
import type { Metrics } from './metrics.js'

export interface PendingTx extends MempoolTx { decoded: DecodedTx }

export interface CommittedBlock {
  block: Block
  hash: Uint8Array
  execution: BlockExecution
  txIds: string[]
  kinds: string[]
  bytes: number
}

/** The header's roots against an execution of its block: null when both match, else which one does not. */
function checkRoots (exec: BlockExecution, h: Block['header']): string | null {
  if (!bytesEqual(exec.stateRoot, h.stateRoot)) return 'stateRoot mismatch'
  if (!bytesEqual(exec.resultsRoot, h.resultsRoot)) return 'resultsRoot mismatch'
  return null
}

/** Result codes that make a block invalid: an honest proposer never includes such a transaction. */
const INVALID_IN_BLOCK = new Set(['BAD_NONCE', 'DUPLICATE_TX', 'WRONG_CHAIN'])

/**
 * The application side of the node (CometBFT's ABCI app plus mempool): admits
 * transactions, builds and validates blocks by executing them on the ledger, and
 * commits a block with its state changes in one atomic storage batch.
 */
export class Application {
  readonly mempool: Mempool<PendingTx>
  private readonly verified = new VerifiedTxCache()
  /** Speculative executions of blocks built or validated at the current height, by block hash. */
  private readonly executions = new Map<string, { height: number, exec: BlockExecution, kinds: string[] }>()
  /** Genesis writes, persisted with the first block so height 0 needs no batch of its own. */
  private pendingGenesisWrites: Write[] | null
  /** Genesis state-tree nodes, persisted with the first block likewise. */
  private pendingGenesisNodes: SmtNodeWrite[] | null

  constructor (
    readonly chainId: string,
    readonly state: LedgerState,
    private readonly store: ChainStore,
    private readonly opts: { maxBlockTxs: number, maxBlockBytes: number, metrics?: Metrics, genesisWrites: Write[] | null, mempool: Mempool<PendingTx> }
  ) {
    this.mempool = opts.mempool
    this.pendingGenesisWrites = opts.genesisWrites
    this.pendingGenesisNodes = opts.genesisWrites === null ? null : state.unpersistedNodes()
  }

  nextNonce = (senderHex: string): number => expectedNonce(this.state, Buffer.from(senderHex, 'hex'))

  /** Stateless checks, signature verified once per node, then mempool admission. */
  checkTx (bytes: Uint8Array, source: 'api' | 'gossip'): PendingTx {
    const m = this.opts.metrics
    m?.txsReceived.inc({ source })
    let decoded: DecodedTx
    try {
      decoded = decodeTx(bytes, this.chainId, { skipSignature: true })
      if (this.mempool.has(decoded.idHex)) throw new NodeError('MEMPOOL_DUPLICATE', `transaction ${decoded.idHex} is already pending`, 409, decoded.idHex)
      // A used nonce is refused before the signature costs a verification: replays and
      // late gossip of committed transactions are cheap to turn away.
      const next = this.nextNonce(toHex(decoded.tx.sender))
      if (decoded.tx.nonce < next) throw new NodeError('TX_STALE_NONCE', `nonce ${decoded.tx.nonce} already used; next is ${next}`, 409, decoded.tx.nonce)
      this.verifySignature(decoded)
    } catch (err) {
      if (err instanceof LedgerError) {
        m?.txsRejected.inc({ reason: err.code })
        throw new NodeError(err.code, err.message, 400, err.value)
      }
      if (err instanceof NodeError) m?.txsRejected.inc({ reason: err.code })
      throw err
    }
    const pending: PendingTx = { id: decoded.idHex, bytes, sender: toHex(decoded.tx.sender), nonce: decoded.tx.nonce, decoded }
    this.mempool.add(pending, this.nextNonce(pending.sender))
    return pending
  }

  private verifySignature (decoded: DecodedTx): void {
    if (this.verified.has(decoded.idHex)) return
    const started = process.hrtime.bigint()
    try {
      verifyTxSignature(decoded)
    } finally {
      const m = this.opts.metrics
      m?.sigVerifications.inc({ what: 'tx' })
      m?.sigVerifySeconds.inc(Number(process.hrtime.bigint() - started) / 1e9)
    }
    this.verified.add(decoded.idHex)
  }

  /** Decodes a block's transactions, reusing mempool decodes and cached signature checks. */
  private decodeBlockTxs (block: Block): DecodedTx[] {
    const out: DecodedTx[] = []
    for (const bytes of block.txs) {
      const id = toHex(sha256(bytes))
      const pending = this.mempool.get(id)
      if (pending !== undefined) { out.push(pending.decoded); continue }
      const decoded = decodeTx(bytes, this.chainId, { skipSignature: true })
      this.verifySignature(decoded)
      out.push(decoded)
    }
    return out
  }

  private execute (ctx: BlockContext, txs: DecodedTx[]): BlockExecution {
    const started = process.hrtime.bigint()
    const exec = executeBlock(this.state, ctx, txs, { commitment: this.timedCommitment })
    this.opts.metrics?.blockExecution.observe(Number(process.hrtime.bigint() - started) / 1e9)
    return exec
  }

  /** CPU time of the state commitment (tree update, node encoding, tree apply): its own bench figure. */
  private readonly timedCommitment = <T>(fn: () => T): T => {
    const started = process.cpuUsage()
    try { return fn() } finally {
      const used = process.cpuUsage(started)
      this.opts.metrics?.stateCommitSeconds.inc((used.user + used.system) / 1e6)
    }
  }

  private remember (hash: Uint8Array, height: number, exec: BlockExecution, txs: DecodedTx[]): void {
    // Bounded: a height has few rounds; entries of older heights are dropped on commit.
    if (this.executions.size >= 64) this.executions.delete(this.executions.keys().next().value as string)
    this.executions.set(toHex(hash), { height, exec, kinds: txs.map(t => t.tx.kind) })
  }

  /** Proposer: take ready transactions, execute them, and seal the header with the state root. */
  buildBlock (p: { height: number, proposer: Uint8Array, prevHash: Uint8Array, lastCommit: Commit | null, lastCommitHash: Uint8Array, time: number }): Block {
    const ctx: BlockContext = { height: p.height, time: p.time, proposer: p.proposer }
    let pending = this.mempool.reap(this.opts.maxBlockTxs, this.opts.maxBlockBytes, this.nextNonce)
    let exec = this.execute(ctx, pending.map(x => x.decoded))
    const bad = exec.results.map((r, i) => INVALID_IN_BLOCK.has(r.code) ? i : -1).filter(i => i >= 0)
    if (bad.length > 0) {
      // Cannot happen with a consistent mempool; drop them rather than propose an invalid block.
      for (const i of bad) this.mempool.remove(pending[i].id)
      const skip = new Set(bad)
      pending = pending.filter((_, i) => !skip.has(i))
      exec = this.execute(ctx, pending.map(x => x.decoded))
    }
    const txs = pending.map(x => x.bytes)
    const block: Block = {
      header: {
        chainId: this.chainId,
        height: p.height,
        time: p.time,
        proposer: p.proposer,
        prevHash: p.prevHash,
        lastCommitHash: p.lastCommitHash,
        txRoot: merkleRoot(txs),
        txCount: txs.length,
        stateRoot: exec.stateRoot,
        resultsRoot: exec.resultsRoot
      },
      txs,
      lastCommit: p.lastCommit
    }
    this.remember(blockHash(block.header), p.height, exec, pending.map(x => x.decoded))
    return block
  }

  /**
   * Everything a validator checks before prevoting for a block beyond what the core
   * checks (signatures, proposer, commit certificate): header fields, tx root, every
   * transaction's form and signature, nonces, and the state root by executing it.
   * Returns null when valid, else the reason.
   */
  validateBlock (block: Block, expect: { height: number, prevHash: Uint8Array, prevTime: number, maxFutureMs: number, now: number }): string | null {
    const h = block.header
    if (h.chainId !== this.chainId) return `chain id ${h.chainId}`
    if (h.height !== expect.height) return `height ${h.height}, expected ${expect.height}`
    if (!bytesEqual(h.prevHash, expect.prevHash)) return 'prevHash does not link to our last block'
    if (h.time <= expect.prevTime) return `time ${h.time} not after previous block time ${expect.prevTime}`
    if (h.time > expect.now + expect.maxFutureMs) return `time ${h.time} too far in the future`
    if (h.txCount !== block.txs.length) return `txCount ${h.txCount} but ${block.txs.length} txs`
    if (block.txs.length > this.opts.maxBlockTxs) return `${block.txs.length} txs exceeds ${this.opts.maxBlockTxs}`
    if (!bytesEqual(h.txRoot, merkleRoot(block.txs))) return 'txRoot mismatch'
    const hash = blockHash(h)
    const known = this.executions.get(toHex(hash))
    if (known !== undefined) return checkRoots(known.exec, h)
    let txs: DecodedTx[]
    try { txs = this.decodeBlockTxs(block) } catch (err) { return `bad transaction: ${(err as Error).message}` }
    const exec = this.execute({ height: h.height, time: h.time, proposer: h.proposer }, txs)
    const bad = exec.results.findIndex(r => INVALID_IN_BLOCK.has(r.code))
    if (bad >= 0) return `transaction ${bad} ${exec.results[bad].code}`
    const roots = checkRoots(exec, h)
    if (roots !== null) return roots
    this.remember(hash, h.height, exec, txs)
    return null
  }

  /** Persists block, certificate, tx index and state changes in one durable batch, then applies them. */
  async commitBlock (block: Block, commit: Commit | null): Promise<CommittedBlock> {
    const hash = blockHash(block.header)
    const key = toHex(hash)
    let known = this.executions.get(key)
    if (known === undefined) {
      const reason = this.validateBlockForCommit(block)
      if (reason !== null) throw new NodeError('BLOCK_INVALID', `refusing to commit block ${block.header.height}: ${reason}`, 500, key)
      known = this.executions.get(key)
      if (known === undefined) throw new NodeError('INTERNAL', 'execution missing after validation', 500)
    }
    const { exec, kinds } = known
    const blockBytes = encodeBlock(block)
    const txIds = block.txs.map(t => toHex(sha256(t)))
    const writes = this.pendingGenesisWrites === null ? exec.writes : [...this.pendingGenesisWrites, ...exec.writes]
    const nodes = this.timedCommitment(() => [...(this.pendingGenesisNodes ?? []), ...exec.tree.nodes].map(([pos, node]) => [pos, node === null ? null : encodeSmtNode(node)] as const))
    const started = process.hrtime.bigint()
    await this.store.commitBlock({
      height: block.header.height,
      hash,
      prevHash: block.header.prevHash,
      stateRoot: block.header.stateRoot,
      time: block.header.time,
      blockBytes,
      ...(commit !== null ? { commitBytes: encodeCommit(commit) } : {}),
      txs: txIds.map((id, index) => ({ id, index, code: exec.results[index].code, log: exec.results[index].log })),
      writes,
      appends: exec.appends,
      nodes,
      resultLeaves: exec.resultLeaves
    })
    const m = this.opts.metrics
    m?.storageWrite.observe(Number(process.hrtime.bigint() - started) / 1e9)
    m?.storageWriteBytes.inc(blockBytes.length + exec.writes.reduce((n, [k, v]) => n + k.length + (v?.length ?? 0), 0) + exec.appends.reduce((n, [k, v]) => n + k.length + v.length, 0))
    this.pendingGenesisWrites = null
    this.pendingGenesisNodes = null
    this.timedCommitment(() => { this.state.apply(exec, { persisted: true }) })
    // Committed ids can never be admitted again (their nonces are used): stop remembering them.
    for (const id of txIds) this.verified.delete(id)
    for (const [k, v] of this.executions) if (v.height <= block.header.height) this.executions.delete(k)
    this.mempool.update(block.header.height, txIds, this.nextNonce)
    return { block, hash, execution: exec, txIds, kinds, bytes: blockBytes.length }
  }

  /** Validation for a block decided by +2/3 (commit or sync): the same checks minus the clock. */
  private validateBlockForCommit (block: Block): string | null {
    const head = this.store.head()
    return this.validateBlock(block, {
      height: (head?.height ?? 0) + 1,
      prevHash: head?.hash ?? ZERO_HASH,
      prevTime: 0,
      maxFutureMs: Number.MAX_SAFE_INTEGER,
      now: 0
    })
  }

  /** Patients a ledger event concerns, for the event stream filter. */
  static patientsOf (events: LedgerEvent[]): string[] {
    const out = new Set<string>()
    for (const e of events) if (e.patient !== undefined) out.add(e.patient)
    return [...out].sort()
  }

  /** A hash of the whole block result, for logs and tests. */
  static resultsHash (exec: BlockExecution): string {
    return toHex(sha256(encode(exec.results.map(r => r.code))))
  }
}
