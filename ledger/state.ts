import { decode, encode, bytesEqual, toHex } from '../codec/index.js'
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
}

/** Decoded values of an execution's writes, handed to apply so it does not decode again. */
export const decodedWrites = new WeakMap<object, Map<string, unknown>>()

/**
 * The in-memory ledger state: string keys → canonical CBOR values, plus the state root
 * and height it corresponds to. Synchronous and deterministic; persisted by the node.
 */
export class LedgerState implements StateView {
  private readonly entries = new Map<string, Uint8Array>()
  private readonly cache = new Map<string, unknown>()
  private readonly groups = new Map<string, Set<string>>()
  private root: Uint8Array
  private h: number

  constructor (stateRoot: Uint8Array = new Uint8Array(32), height = 0) {
    this.root = stateRoot
    this.h = height
  }

  /** Rebuilds the state on restart from every persisted (key, value) and the last root. */
  static fromEntries (entries: Iterable<[string, Uint8Array]>, stateRoot: Uint8Array, height: number): LedgerState {
    const state = new LedgerState(stateRoot, height)
    for (const [key, value] of entries) state.set(key, value)
    return state
  }

  get stateRoot (): Uint8Array { return this.root }
  get height (): number { return this.h }
  get size (): number { return this.entries.size }

  getBytes (key: string): Uint8Array | undefined { return this.entries.get(key) }

  get<T>(key: string): T | undefined {
    if (this.cache.has(key)) return this.cache.get(key) as T
    const bytes = this.entries.get(key)
    if (bytes === undefined) return undefined
    let value: unknown
    try { value = decode(bytes, VALUE_LIMITS) } catch (err) {
      throw new LedgerError('STATE_CORRUPT', `value at ${key} does not decode: ${(err as Error).message}`, key)
    }
    this.cache.set(key, value)
    return value as T
  }

  keysInGroup (group: string): string[] {
    const set = this.groups.get(group)
    return set === undefined ? [] : [...set].sort()
  }

  /** Every entry in key order (for persistence checks and snapshots). */
  * sortedEntries (): IterableIterator<[string, Uint8Array]> {
    for (const key of [...this.entries.keys()].sort()) yield [key, this.entries.get(key) as Uint8Array]
  }

  /** Applies a block's writes (not its appends, which live on disk only). */
  apply (exec: ExecutionChanges): void {
    if (!bytesEqual(exec.prevStateRoot, this.root)) {
      throw new LedgerError('STATE_MISMATCH', `execution was built on root ${toHex(exec.prevStateRoot)}, state is at ${toHex(this.root)}`, exec.height)
    }
    const decoded = decodedWrites.get(exec)
    for (const [key, value] of exec.writes) {
      if (value === null) this.delete(key)
      else {
        this.set(key, value)
        if (decoded?.has(key) === true) this.cache.set(key, decoded.get(key))
      }
    }
    this.root = exec.stateRoot
    this.h = exec.height
  }

  private set (key: string, value: Uint8Array): void {
    this.entries.set(key, value)
    this.cache.delete(key)
    const g = groupOf(key)
    if (g !== null) {
      let set = this.groups.get(g)
      if (set === undefined) { set = new Set(); this.groups.set(g, set) }
      set.add(key)
    }
  }

  private delete (key: string): void {
    this.entries.delete(key)
    this.cache.delete(key)
    const g = groupOf(key)
    if (g !== null) {
      const set = this.groups.get(g)
      set?.delete(key)
      if (set?.size === 0) this.groups.delete(g)
    }
  }
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
