import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { bytesEqual, encode, toHex, u64be } from '../codec/index.js'
import { BlockRepository } from './blocks.js'
import { Bucket, MetaKey } from './buckets.js'
import { StoreContext } from './context.js'
import { openDb, type Db, type DbOptions } from './db.js'
import { StorageError } from './errors.js'
import { verifyIntegrity, type IntegrityOptions, type IntegrityReport } from './integrity.js'
import { bucketKey, heightKey } from './keys.js'
import { elapsedSeconds, type StorageMetrics } from './metrics.js'
import { MAX_TX_LOG_CHARS, chainIdentitySchema, decodeRecord, encodeRecord, headSchema, headerSummarySchema, txLocationSchema, type ChainHead, type ChainIdentity } from './records.js'
import { SignerStateStore } from './signerState.js'
import { StateRepository, checkStateKey } from './state.js'
import { TxIndexRepository, txIdBytes } from './txIndex.js'
import { ConsensusWal } from './wal.js'

export interface OpenChainStoreOptions {
  chainId: string
  genesisHash: Uint8Array
  metrics?: StorageMetrics
  /** Consensus's block hash over encoded block bytes; enables re-hashing the newest blocks at open. */
  hashBlock?: (blockBytes: Uint8Array) => Uint8Array
  /** Heights whose summaries are hash-link checked at open (default 1000). */
  integrityDepth?: number
  /** Heights whose block bytes must be present at open (default 100,000; Infinity for all). */
  blockScanDepth?: number
  db?: DbOptions
  walMaxRecordBytes?: number
}

export interface CommitTx {
  /** tx id: 32 bytes or 64 lower-case hex chars. */
  id: Uint8Array | string
  /** Position in the block. */
  index: number
  /** Result code ('OK' or the ledger's failure code). */
  code: string
  /** The failure's reason (the ledger result's log), cut to MAX_TX_LOG_CHARS. */
  log?: string
}

export interface CommitBlockInput {
  height: number
  hash: Uint8Array
  prevHash: Uint8Array
  stateRoot: Uint8Array
  /** Block time, ms since epoch. */
  time: number
  blockBytes: Uint8Array
  /** Certificate for this block; omit it when it becomes known only later (then putCommit). */
  commitBytes?: Uint8Array
  txs: readonly CommitTx[]
  /** State puts (value) and deletes (null). */
  writes: ReadonlyArray<readonly [string, Uint8Array | null]>
  /** Write-once records (audit trail) that live only on disk. */
  appends: ReadonlyArray<readonly [string, Uint8Array]>
  /** State-tree node puts and deletes by position, applied in order (a later one wins). */
  nodes?: ReadonlyArray<readonly [Uint8Array, Uint8Array | null]>
  /** The block's encoded result leaves in tx order (receipts prove them against the header's resultsRoot). */
  resultLeaves?: readonly Uint8Array[]
}

/** Layout of a node's data directory. */
export function storePaths (dir: string): { db: string, wal: string, signerState: string } {
  return { db: join(dir, 'db'), wal: join(dir, 'wal'), signerState: join(dir, 'signer-state') }
}

const CHAIN_KEY = bucketKey(Bucket.meta, Uint8Array.of(MetaKey.chain))
const HEAD_KEY = bucketKey(Bucket.meta, Uint8Array.of(MetaKey.head))

function bad (message: string, value?: unknown): never {
  throw new StorageError('STORE_BAD_INPUT', message, value)
}

function isHash (v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === 32
}

type BatchOp = { type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }

/**
 * The node's persistence: typed repositories over one LevelDB plus the consensus WAL and the
 * signer state file. Reads go through the repositories; every chain write goes through
 * commitBlock (one synced batch) or putCommit.
 */
export class ChainStore {
  readonly blocks: BlockRepository
  readonly txIndex: TxIndexRepository
  readonly state: StateRepository
  readonly signerState: SignerStateStore
  private currentHead: ChainHead | null
  private writeQueue: Promise<unknown> = Promise.resolve()
  private writeFailure: Error | undefined

  private constructor (
    private readonly ctx: StoreContext,
    readonly identity: ChainIdentity,
    head: ChainHead | null,
    readonly wal: ConsensusWal,
    signerStatePath: string,
    readonly lastIntegrityReport: IntegrityReport,
    private readonly options: OpenChainStoreOptions
  ) {
    this.currentHead = head
    this.blocks = new BlockRepository(ctx)
    this.txIndex = new TxIndexRepository(ctx)
    this.state = new StateRepository(ctx)
    this.signerState = new SignerStateStore(signerStatePath, () => this.currentHead?.height ?? 0, options.metrics)
  }

  static async open (dir: string, options: OpenChainStoreOptions): Promise<ChainStore> {
    if (typeof options.chainId !== 'string' || options.chainId.length === 0) bad('chainId must be a non-empty string', options.chainId)
    if (!isHash(options.genesisHash)) bad('genesisHash must be 32 bytes', options.genesisHash)
    const paths = storePaths(dir)
    try {
      await mkdir(dir, { recursive: true })
    } catch (err) {
      throw new StorageError('STORE_OPEN_FAILED', `cannot create data directory ${dir}: ${(err as Error).message}`, dir, { cause: err })
    }
    const db = await openDb(paths.db, options.db)
    const ctx = new StoreContext(db, paths.db)
    try {
      const identity = await ensureIdentity(db, options.chainId, options.genesisHash, paths.db)
      const report = await ChainStore.check(ctx, options)
      const wal = await ConsensusWal.open(paths.wal, { metrics: options.metrics, maxRecordBytes: options.walMaxRecordBytes })
      return new ChainStore(ctx, identity, report.head, wal, paths.signerState, report, options)
    } catch (err) {
      ctx.closed = true
      await db.close()
      throw err
    }
  }

  private static async check (ctx: StoreContext, options: OpenChainStoreOptions): Promise<IntegrityReport> {
    const start = process.hrtime.bigint()
    const integrity: IntegrityOptions = {}
    if (options.integrityDepth !== undefined) integrity.depth = options.integrityDepth
    if (options.hashBlock !== undefined) integrity.hashBlock = options.hashBlock
    if (options.blockScanDepth !== undefined) integrity.blockScanDepth = options.blockScanDepth
    const report = await verifyIntegrity(ctx, integrity)
    options.metrics?.observeIntegrityCheck?.(elapsedSeconds(start), report.summariesChecked)
    return report
  }

  /** The chain head, or null before the first block. */
  head (): ChainHead | null {
    this.ctx.assertOpen()
    return this.currentHead === null ? null : { ...this.currentHead }
  }

  /** Re-runs the open-time check (head, summaries hash links, block presence). */
  async verifyIntegrity (options: IntegrityOptions = {}): Promise<IntegrityReport> {
    this.ctx.assertOpen()
    const merged: IntegrityOptions = { ...options }
    if (merged.hashBlock === undefined && this.options.hashBlock !== undefined) merged.hashBlock = this.options.hashBlock
    if (merged.depth === undefined && this.options.integrityDepth !== undefined) merged.depth = this.options.integrityDepth
    if (merged.blockScanDepth === undefined && this.options.blockScanDepth !== undefined) merged.blockScanDepth = this.options.blockScanDepth
    return await this.serialWrite(async () => await verifyIntegrity(this.ctx, merged))
  }

  /**
   * Writes a committed block, its header summary, hash index, tx index entries, state writes and
   * deletes, appends and the new head as ONE LevelDB batch with sync: it lands whole or not at all.
   * The block must extend the head: height = head + 1 and prevHash = head hash.
   */
  async commitBlock (input: CommitBlockInput): Promise<ChainHead> {
    this.ctx.assertOpen()
    const ops = this.buildCommitOps(input)
    return await this.serialWrite(async () => {
      const expected = (this.currentHead?.height ?? 0) + 1
      if (input.height !== expected) {
        throw new StorageError('STORE_OUT_OF_ORDER', `commitBlock at height ${input.height}, expected ${expected}`, { height: input.height, expected })
      }
      if (this.currentHead !== null && !bytesEqual(input.prevHash, this.currentHead.hash)) {
        throw new StorageError('STORE_OUT_OF_ORDER', `block ${input.height} prevHash ${toHex(input.prevHash)} does not match head hash ${toHex(this.currentHead.hash)}`, { height: input.height })
      }
      const head: ChainHead = { height: input.height, hash: input.hash.slice(), stateRoot: input.stateRoot.slice() }
      ops.push({ type: 'put', key: HEAD_KEY, value: encodeRecord(headSchema, head, 'chain head') })
      let bytes = 0
      for (const op of ops) bytes += op.key.length + (op.type === 'put' ? op.value.length : 0)
      const start = process.hrtime.bigint()
      await this.durableBatch(ops)
      this.options.metrics?.observeWrite('commitBlock', elapsedSeconds(start), bytes)
      this.currentHead = head
      return { ...head }
    })
  }

  /** Stores (or replaces) the commit certificate of an already committed height, durably. */
  async putCommit (height: number, commitBytes: Uint8Array): Promise<void> {
    this.ctx.assertOpen()
    if (!Number.isSafeInteger(height) || height < 1) bad('height must be a positive integer', height)
    if (!(commitBytes instanceof Uint8Array) || commitBytes.length === 0) bad('commitBytes must be non-empty bytes', commitBytes)
    await this.serialWrite(async () => {
      const head = this.currentHead?.height ?? 0
      if (height > head) throw new StorageError('STORE_OUT_OF_ORDER', `putCommit for height ${height} above the head ${head}`, { height, head })
      const start = process.hrtime.bigint()
      await this.durableBatch([{ type: 'put', key: heightKey(Bucket.commitCert, height), value: commitBytes }])
      this.options.metrics?.observeWrite('putCommit', elapsedSeconds(start), commitBytes.length)
    })
  }

  /** Commit certificate of the head block (the next block carries it), or undefined. */
  async latestCommit (): Promise<{ height: number, commit: Uint8Array } | undefined> {
    this.ctx.assertOpen()
    const head = this.currentHead
    if (head === null) return undefined
    const commit = await this.blocks.getCommit(head.height)
    return commit === undefined ? undefined : { height: head.height, commit }
  }

  /** Explicit signer-state reset; see SignerStateStore.reset. */
  async resetSignerState (options: { force?: boolean } = {}): Promise<void> {
    this.ctx.assertOpen()
    await this.signerState.reset(options)
  }

  async close (): Promise<void> {
    if (this.ctx.closed) return
    await this.writeQueue
    this.ctx.closed = true
    await this.wal.close()
    await this.ctx.db.close()
  }

  private buildCommitOps (input: CommitBlockInput): BatchOp[] {
    if (typeof input !== 'object' || input === null) bad('commitBlock input must be an object', input)
    const { height, hash, prevHash, stateRoot, time, blockBytes, commitBytes, txs, writes, appends } = input
    if (!Number.isSafeInteger(height) || height < 1) bad('height must be a positive integer', height)
    if (!isHash(hash)) bad('hash must be 32 bytes', hash)
    if (!isHash(prevHash)) bad('prevHash must be 32 bytes', prevHash)
    if (!isHash(stateRoot)) bad('stateRoot must be 32 bytes', stateRoot)
    if (!(blockBytes instanceof Uint8Array) || blockBytes.length === 0) bad('blockBytes must be non-empty bytes', blockBytes)
    if (commitBytes !== undefined && (!(commitBytes instanceof Uint8Array) || commitBytes.length === 0)) bad('commitBytes must be non-empty bytes when given', commitBytes)
    if (!Array.isArray(txs) || !Array.isArray(writes) || !Array.isArray(appends)) bad('txs, writes and appends must be arrays', { height })

    const ops: BatchOp[] = []
    const put = (key: Uint8Array, value: Uint8Array): void => { ops.push({ type: 'put', key, value }) }
    put(heightKey(Bucket.blockBytes, height), blockBytes)
    put(heightKey(Bucket.blockSummary, height), encodeRecord(headerSummarySchema, { hash, prevHash, stateRoot, time, txCount: txs.length }, 'header summary'))
    put(bucketKey(Bucket.blockHashToHeight, hash), u64be(height))
    if (commitBytes !== undefined) put(heightKey(Bucket.commitCert, height), commitBytes)
    for (const tx of txs) {
      put(bucketKey(Bucket.txIndex, txIdBytes(tx.id)), encodeRecord(txLocationSchema, { height, index: tx.index, code: tx.code, ...(tx.log !== undefined ? { log: tx.log.slice(0, MAX_TX_LOG_CHARS) } : {}) }, 'tx index entry'))
    }
    for (const entry of writes) {
      const [key, value] = entry
      const k = checkStateKey(key)
      if (value === null) ops.push({ type: 'del', key: bucketKey(Bucket.state, k) })
      else if (value instanceof Uint8Array) put(bucketKey(Bucket.state, k), value)
      else bad(`state write for ${key} must be bytes or null`, value)
    }
    for (const entry of appends) {
      const [key, value] = entry
      if (!(value instanceof Uint8Array)) bad(`append for ${String(key)} must be bytes`, value)
      put(bucketKey(Bucket.appends, checkStateKey(key)), value)
    }
    if (input.resultLeaves !== undefined) {
      if (!Array.isArray(input.resultLeaves) || input.resultLeaves.length !== txs.length || !input.resultLeaves.every(l => l instanceof Uint8Array)) bad('resultLeaves must be one byte string per tx', height)
      put(heightKey(Bucket.results, height), encode(input.resultLeaves))
    }
    for (const [pos, node] of input.nodes ?? []) {
      if (!(pos instanceof Uint8Array) || pos.length < 2 || pos.length > 34) bad('tree node position must be 2..34 bytes', pos)
      if (node === null) ops.push({ type: 'del', key: bucketKey(Bucket.stateNodes, pos) })
      else if (node instanceof Uint8Array && node.length === 65) put(bucketKey(Bucket.stateNodes, pos), node)
      else bad('tree node must be 65 bytes or null', node)
    }
    return ops
  }

  private async durableBatch (ops: BatchOp[]): Promise<void> {
    if (this.writeFailure !== undefined) {
      throw new StorageError('STORE_CLOSED', `an earlier write failed (${this.writeFailure.message}); reopen the store`, undefined, { cause: this.writeFailure })
    }
    try {
      await this.ctx.db.batch(ops, { sync: true })
    } catch (err) {
      // Whether the batch reached the disk is unknown: stop writing until a reopen re-reads the head.
      this.writeFailure = err as Error
      throw err
    }
  }

  private async serialWrite<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.writeQueue.then(fn, fn)
    this.writeQueue = run.catch(() => undefined)
    return await run
  }
}

async function ensureIdentity (db: Db, chainId: string, genesisHash: Uint8Array, location: string): Promise<ChainIdentity> {
  const stored = await db.get(CHAIN_KEY)
  if (stored === undefined) {
    const anyKey = await db.keys({ limit: 1 }).all()
    if (anyKey.length > 0) throw new StorageError('STORE_CORRUPT', `database ${location} holds data but no chain identity record`, location)
    const identity: ChainIdentity = { chainId, genesisHash: genesisHash.slice() }
    await db.put(CHAIN_KEY, encodeRecord(chainIdentitySchema, identity, 'chain identity'), { sync: true })
    return identity
  }
  const identity = decodeRecord(chainIdentitySchema, stored, 'chain identity')
  if (identity.chainId !== chainId || !bytesEqual(identity.genesisHash, genesisHash)) {
    throw new StorageError('STORE_WRONG_CHAIN',
      `database ${location} belongs to chain "${identity.chainId}" (genesis ${toHex(identity.genesisHash)}), not to chain "${chainId}" (genesis ${toHex(genesisHash)})`,
      { stored: { chainId: identity.chainId, genesisHash: toHex(identity.genesisHash) }, requested: { chainId, genesisHash: toHex(genesisHash) } })
  }
  return identity
}

/** Opens (creating on first use) the store of a node's data directory and checks its integrity. */
export async function openChainStore (dir: string, options: OpenChainStoreOptions): Promise<ChainStore> {
  return await ChainStore.open(dir, options)
}
