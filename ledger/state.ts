import { decode, encode, bytesEqual, compareBytes, toHex, utf8 } from '../codec/index.js'
import { sha256One, SparseMerkleTree, SMT_EMPTY, type SmtChange, type SmtNodeWrite, type SmtNodeReader, type SmtProof, type SmtUpdate } from '../crypto/index.js'
import { LedgerError } from './errors.js'

/** Read access to ledger state: by key, and the keys of one group (`ns/<id>/`). */
export interface StateView {
  /** The decoded value at key. Treat as immutable: write a new object to change it. */
  get: <T>(key: string) => T | undefined
  /** Sorted keys starting with `group`, where group is the first two segments of a key plus '/'. */
  keysInGroup: (group: string) => string[]
}

const VALUE_LIMITS = { maxBytes: 4 * 1024 * 1024, maxDepth: 16 }

/**
 * The group of a key is its first two '/'-separated segments plus '/', e.g.
 * `consent/<patient>/` for `consent/<patient>/<grant>`; keys with fewer segments have none.
 * Groups make per-patient listings cheap without an ordered map.
 */
export function groupOf (key: string): string | null {
  const a = key.indexOf('/')
  if (a < 0) return null
  const b = key.indexOf('/', a + 1)
  return b < 0 ? null : key.slice(0, b + 1)
}

export type Write = [key: string, value: Uint8Array | null]
export type Append = [key: string, value: Uint8Array]

/** What executeBlock produces and LedgerState.apply consumes. */
export interface ExecutionChanges {
  height: number
  prevStateRoot: Uint8Array
  stateRoot: Uint8Array
  writes: Write[]
  /** The state tree's node changes that give stateRoot (stateTreeUpdate). */
  tree: SmtUpdate
}

/** Where a state key sits in the state tree: sha256 of its UTF-8 bytes. */
export function statePath (key: string): Uint8Array { return sha256One(utf8(key)) }

/** What a state key's leaf commits to: sha256 of its canonical CBOR value. */
export function stateValueHash (value: Uint8Array): Uint8Array { return sha256One(value) }

/** Decoded values of an execution's writes, handed to apply so it does not decode again. */
export const decodedWrites = new WeakMap<object, Map<string, unknown>>()

/**
 * Committed state values, read synchronously: the node's LevelDB (storage getSync).
 * The ledger does no I/O itself; it reads what the node has durably committed.
 */
export interface StateSource {
  read: (key: string) => Uint8Array | undefined
  /** Committed state-tree nodes by position (storage's stateNodes bucket). */
  readNode: SmtNodeReader
}

/** Decoded values kept at most; a miss decodes the bytes again (14 µs), results never change. */
export const DEFAULT_DECODED_CACHE = 20_000

/**
 * The ledger state at one height: string keys → canonical CBOR values, the state root and
 * the height. Synchronous and deterministic.
 *
 * Two modes. In memory (tests, the simulator, a chain before its first block): every entry
 * lives in `entries`. Backed by a StateSource (a running node): values live on disk and
 * are read through a bounded cache of decoded values, so memory does not grow with the
 * state; only the group index (keys of per-patient groups) and writes not yet in the
 * source (genesis, until the first block carries it) stay in memory.
 */
export class LedgerState implements StateView {
  /** In memory: the whole state. Backed: writes the source does not have yet (null = deleted). */
  private readonly entries = new Map<string, Uint8Array | null>()
  private readonly cache: Map<string, unknown> = new Map()
  private readonly groups = new Map<string, Set<string>>()
  private source: StateSource | null = null
  /** The authenticated state: a sparse Merkle tree over (statePath(key), stateValueHash(value)). */
  private tree: SparseMerkleTree
  private h: number
  private readonly cacheLimit: number

  /** An empty state at height 0 (genesis starts here), or at `height` for a tree read from `reader`. */
  constructor (stateRoot: Uint8Array = SMT_EMPTY, height = 0, opts: { decodedCache?: number, reader?: SmtNodeReader } = {}) {
    if (opts.reader === undefined && !bytesEqual(stateRoot, SMT_EMPTY)) {
      throw new LedgerError('STATE_MISMATCH', 'an in-memory state starts empty; build it with fromEntries', toHex(stateRoot))
    }
    this.tree = new SparseMerkleTree(stateRoot, opts.reader === undefined ? {} : { reader: opts.reader })
    this.h = height
    this.cacheLimit = Math.max(1, opts.decodedCache ?? DEFAULT_DECODED_CACHE)
  }

  /** An in-memory state from every (key, value); throws STATE_MISMATCH unless they give `stateRoot`. */
  static fromEntries (entries: Iterable<[string, Uint8Array]>, stateRoot: Uint8Array, height: number): LedgerState {
    const state = new LedgerState(SMT_EMPTY, height)
    const writes: Write[] = []
    for (const [key, value] of entries) { state.set(key, value); writes.push([key, value]) }
    state.tree.apply(state.tree.update(treeChanges(writes)))
    if (!bytesEqual(state.tree.root, stateRoot)) {
      throw new LedgerError('STATE_MISMATCH', `entries hash to root ${toHex(state.tree.root)}, expected ${toHex(stateRoot)}`, height)
    }
    return state
  }

  /** A state backed by committed storage: `keys` are every stored key (for the group index); the tree is read from it. */
  static fromSource (source: StateSource, keys: Iterable<string>, stateRoot: Uint8Array, height: number, opts: { decodedCache?: number } = {}): LedgerState {
    const state = new LedgerState(stateRoot, height, { ...opts, reader: source.readNode })
    state.source = source
    for (const key of keys) state.index(key)
    return state
  }

  /** The state tree after `writes` (sorted or not), built on this state; does not change it. */
  stateTreeUpdate (writes: Write[]): SmtUpdate { return this.tree.update(treeChanges(writes)) }

  /** Inclusion or absence proof of a key at the current root. */
  proveKey (key: string): SmtProof { return this.tree.prove(statePath(key)) }

  /** State-tree nodes held only in memory (genesis until the first block): persist them with the next block. */
  unpersistedNodes (): SmtNodeWrite[] { return this.tree.unpersisted() }

  /** The state tree itself (verify-chain walks it). */
  get stateTree (): SparseMerkleTree { return this.tree }

  /**
   * Backs an in-memory state (genesis) by storage. Its entries stay in memory until an
   * apply marked persisted: the node writes them with the first block, in the same batch.
   */
  attachSource (source: StateSource): void {
    if (this.source !== null) throw new LedgerError('STATE_SOURCE_SET', 'state already has a source', null)
    this.source = source
    this.tree.attachReader(source.readNode)
  }

  get stateRoot (): Uint8Array { return this.tree.root }
  get height (): number { return this.h }
  get backed (): boolean { return this.source !== null }

  /** Entries held in memory (the whole state in memory mode). */
  get size (): number { return this.entries.size }

  getBytes (key: string): Uint8Array | undefined {
    const own = this.entries.get(key)
    if (own !== undefined) return own ?? undefined
    if (this.entries.has(key) || this.source === null) return undefined
    return this.source.read(key)
  }

  get<T>(key: string): T | undefined {
    const cached = this.cache.get(key)
    if (cached !== undefined) {
      // Refresh its place: the cache evicts in insertion order, so this makes it LRU.
      this.cache.delete(key)
      this.cache.set(key, cached)
      return cached as T
    }
    const bytes = this.getBytes(key)
    if (bytes === undefined) return undefined
    let value: unknown
    try { value = decode(bytes, VALUE_LIMITS) } catch (err) {
      throw new LedgerError('STATE_CORRUPT', `value at ${key} does not decode: ${(err as Error).message}`, key)
    }
    this.remember(key, value)
    return value as T
  }

  keysInGroup (group: string): string[] {
    const set = this.groups.get(group)
    return set === undefined ? [] : [...set].sort()
  }

  /** Every in-memory entry in key order (the whole state in memory mode: determinism checks). */
  * sortedEntries (): IterableIterator<[string, Uint8Array]> {
    for (const key of [...this.entries.keys()].sort()) {
      const value = this.entries.get(key)
      if (value !== null && value !== undefined) yield [key, value]
    }
  }

  /**
   * Applies a block's writes (not its appends, which live on disk only). `persisted`: the
   * node has durably written this block's writes, and every earlier one, to the source.
   */
  apply (exec: ExecutionChanges, opts: { persisted?: boolean } = {}): void {
    if (!bytesEqual(exec.prevStateRoot, this.tree.root) || !bytesEqual(exec.tree.prevRoot, this.tree.root) || !bytesEqual(exec.tree.root, exec.stateRoot)) {
      throw new LedgerError('STATE_MISMATCH', `execution was built on root ${toHex(exec.prevStateRoot)}, state is at ${toHex(this.tree.root)}`, exec.height)
    }
    const durable = this.source !== null && opts.persisted === true
    if (durable) this.entries.clear()
    const decoded = decodedWrites.get(exec)
    for (const [key, value] of exec.writes) {
      if (value === null) {
        this.cache.delete(key)
        this.unindex(key)
        if (durable) continue
        if (this.source === null) this.entries.delete(key)
        else this.entries.set(key, null)
      } else {
        this.cache.delete(key)
        this.index(key)
        if (!durable) this.entries.set(key, owned(value))
        if (decoded?.has(key) === true) this.remember(key, decoded.get(key))
      }
    }
    this.tree.apply(exec.tree, { persisted: durable })
    this.h = exec.height
  }

  private set (key: string, value: Uint8Array): void {
    this.entries.set(key, owned(value))
    this.cache.delete(key)
    this.index(key)
  }

  private remember (key: string, value: unknown): void {
    if (value === undefined) return
    if (this.cache.size >= this.cacheLimit) {
      // Drop the least recently used eighth at once: cheap and bounded.
      let drop = Math.max(1, this.cacheLimit >> 3)
      for (const old of this.cache.keys()) { this.cache.delete(old); if (--drop === 0) break }
    }
    this.cache.set(key, value)
  }

  private index (key: string): void {
    const g = groupOf(key)
    if (g === null) return
    let set = this.groups.get(g)
    if (set === undefined) { set = new Set(); this.groups.set(g, set) }
    set.add(key)
  }

  private unindex (key: string): void {
    const g = groupOf(key)
    if (g === null) return
    const set = this.groups.get(g)
    set?.delete(key)
    if (set?.size === 0) this.groups.delete(g)
  }

  /** Decoded values kept now (bounded by the cache limit). */
  get cachedValues (): number { return this.cache.size }
}

/** Tree changes for state writes: sorted by path; a delete of an absent key is a no-op. */
function treeChanges (writes: Write[]): SmtChange[] {
  const out: SmtChange[] = writes.map(([key, value]) => ({ path: statePath(key), valueHash: value === null ? null : stateValueHash(value) }))
  return out.sort((a, b) => compareBytes(a.path, b.path))
}

/**
 * A value that owns its bytes: a view into a larger buffer (a decoded block, a LevelDB
 * read, an encoder's chunk) would keep that whole buffer alive for as long as the entry.
 */
function owned (value: Uint8Array): Uint8Array {
  return value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : value.slice()
}

const DELETED = Symbol('deleted')
type Slot = unknown | typeof DELETED

/**
 * Copy-on-write view over a LedgerState for one block. Changes of the current
 * transaction are journaled so a failing transaction rolls back exactly.
 */
export class Overlay implements StateView {
  private readonly changes = new Map<string, Slot>()
  private readonly touchedGroups = new Map<string, Set<string>>()
  private journal: Array<[string, Slot | undefined]> | null = null

  constructor (private readonly base: StateView) {}

  get<T>(key: string): T | undefined {
    if (this.changes.has(key)) {
      const v = this.changes.get(key)
      return v === DELETED ? undefined : v as T
    }
    return this.base.get<T>(key)
  }

  keysInGroup (group: string): string[] {
    const touched = this.touchedGroups.get(group)
    const base = this.base.keysInGroup(group)
    if (touched === undefined) return base
    const all = new Set(base)
    for (const k of touched) all.add(k)
    return [...all].filter(k => this.get(k) !== undefined).sort()
  }

  put (key: string, value: unknown): void { this.record(key, value) }
  delete (key: string): void { this.record(key, DELETED) }

  private record (key: string, slot: Slot): void {
    if (this.journal !== null) this.journal.push([key, this.changes.has(key) ? this.changes.get(key) : undefined])
    this.changes.set(key, slot)
    const g = groupOf(key)
    if (g !== null) {
      let set = this.touchedGroups.get(g)
      if (set === undefined) { set = new Set(); this.touchedGroups.set(g, set) }
      set.add(key)
    }
  }

  begin (): void { this.journal = [] }
  commit (): void { this.journal = null }
  rollback (): void {
    const journal = this.journal ?? []
    for (let i = journal.length - 1; i >= 0; i--) {
      const [key, prev] = journal[i]
      if (prev === undefined) this.changes.delete(key)
      else this.changes.set(key, prev)
    }
    this.journal = null
  }

  /** The net changes, sorted by key, encoded; unchanged rewrites are kept (they are cheap and deterministic). */
  finish (): { writes: Write[], decoded: Map<string, unknown> } {
    const decoded = new Map<string, unknown>()
    const writes: Write[] = []
    for (const key of [...this.changes.keys()].sort()) {
      const v = this.changes.get(key)
      if (v === DELETED) writes.push([key, null])
      else { writes.push([key, encode(v)]); decoded.set(key, v) }
    }
    return { writes, decoded }
  }
}
