import { hash as oneShotHash } from 'node:crypto'
import { bytesEqual, compareBytes } from '../codec/index.js'

/**
 * A compact sparse Merkle tree over 256-bit paths (sha256 of a key), binary, with
 * inclusion and absence proofs. A subtree holding one leaf is that leaf, stored at the
 * subtree's top (as in Diem's Jellyfish tree), so a path is about log2(leaves) deep,
 * not 256. The root is a function of the set of (path, valueHash) only.
 *
 * Nodes are 65 bytes and a node's hash is sha256 of its bytes:
 *   leaf     0x00 ‖ path(32) ‖ valueHash(32)
 *   internal 0x01 ‖ leftHash(32) ‖ rightHash(32)     (an empty side hashes to 32 zero bytes)
 * The tag byte keeps leaves and inner nodes apart (RFC 6962 §2.1 reasoning).
 *
 * Nodes are stored by position (depth, path prefix): only the current version is kept,
 * so an update rewrites the nodes on the changed paths in place. Reads are synchronous
 * through a port (the storage layer's getSync); nothing here does I/O itself.
 */

export const SMT_EMPTY = new Uint8Array(32)
const LEAF = 0
const INNER = 1
const NODE_BYTES = 65

/**
 * A node in memory: a leaf (a = path, b = valueHash) or an inner node (a = left hash,
 * b = right hash). Kept as two 32-byte arrays, not one 65-byte one: V8 allocates typed
 * arrays up to 64 bytes on its heap and larger ones off it, ten times slower (measured).
 */
export interface SmtNode { leaf: boolean, a: Uint8Array, b: Uint8Array }

/** Reads a node's bytes (encodeSmtNode) at a position key, synchronously (the storage layer supplies it). */
export type SmtNodeReader = (positionKey: Uint8Array) => Uint8Array | undefined

/** A node write: position key and node, or null to delete. */
export type SmtNodeWrite = [positionKey: Uint8Array, node: SmtNode | null]

export interface SmtChange { path: Uint8Array, valueHash: Uint8Array | null }

export interface SmtUpdate {
  prevRoot: Uint8Array
  root: Uint8Array
  /** Node writes in position order of first touch; apply in order (later wins). */
  nodes: SmtNodeWrite[]
}

export interface SmtProof {
  /** Sibling hashes from the root down to the terminal node's parent. */
  siblings: Uint8Array[]
  /** The leaf where the walk along the path ended, or null for an empty subtree. */
  leaf: { path: Uint8Array, valueHash: Uint8Array } | null
}

export function sha256One (data: Uint8Array): Uint8Array {
  const b = oneShotHash('sha256', data, 'buffer') as unknown as Buffer
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

const scratch = new Uint8Array(NODE_BYTES)
/** sha256(tag ‖ a ‖ b) through one reused buffer (crypto.hash copies its input before returning). */
function hash3 (tag: number, a: Uint8Array, b: Uint8Array): Uint8Array {
  scratch[0] = tag
  scratch.set(a, 1)
  scratch.set(b, 33)
  return sha256One(scratch)
}

export function smtLeafHash (path: Uint8Array, valueHash: Uint8Array): Uint8Array { return hash3(LEAF, path, valueHash) }
function innerHash (left: Uint8Array, right: Uint8Array): Uint8Array { return hash3(INNER, left, right) }
export function smtNodeHash (n: SmtNode): Uint8Array { return hash3(n.leaf ? LEAF : INNER, n.a, n.b) }

/** Stored form: tag ‖ a ‖ b (65 bytes). */
export function encodeSmtNode (n: SmtNode): Uint8Array {
  const out = new Uint8Array(NODE_BYTES)
  out[0] = n.leaf ? LEAF : INNER
  out.set(n.a, 1)
  out.set(n.b, 33)
  return out
}

export function decodeSmtNode (bytes: Uint8Array, where: unknown = null): SmtNode {
  if (bytes.length !== NODE_BYTES || (bytes[0] !== LEAF && bytes[0] !== INNER)) {
    throw new SmtError('SMT_NODE_CORRUPT', `tree node is ${bytes.length} bytes with tag ${bytes[0]}`, where)
  }
  return { leaf: bytes[0] === LEAF, a: bytes.subarray(1, 33), b: bytes.subarray(33, 65) }
}

const leafNode = (path: Uint8Array, valueHash: Uint8Array): SmtNode => ({ leaf: true, a: path, b: valueHash })
const innerNode = (left: Uint8Array, right: Uint8Array): SmtNode => ({ leaf: false, a: left, b: right })

function bit (path: Uint8Array, i: number): number { return (path[i >> 3] >> (7 - (i & 7))) & 1 }

/** Position of the node at `depth` on `path`: u16be depth ‖ the first depth bits of path (rest zeroed). */
export function smtPosition (path: Uint8Array, depth: number): Uint8Array {
  const n = (depth + 7) >> 3
  const out = new Uint8Array(2 + n)
  out[0] = depth >> 8
  out[1] = depth & 0xff
  out.set(path.subarray(0, n), 2)
  const rem = depth & 7
  if (rem !== 0) out[1 + n] &= 0xff << (8 - rem)
  return out
}

function posString (pos: Uint8Array): string {
  let out = ''
  for (let i = 0; i < pos.length; i++) out += String.fromCharCode(pos[i])
  return out
}

/** Nodes this shallow stay in memory for good: at most 2^(TOP_DEPTH+1) of them. */
const TOP_DEPTH = 12
export const DEFAULT_SMT_CACHE = 100_000

export class SparseMerkleTree {
  /** Nodes not (yet) in the reader: the whole tree when there is none. null = deleted. */
  private readonly own = new Map<string, SmtNode | null>()
  private readonly top = new Map<string, SmtNode>()
  private readonly cache = new Map<string, SmtNode>()
  private reader: SmtNodeReader | null = null
  private currentRoot: Uint8Array
  private readonly cacheLimit: number

  constructor (root: Uint8Array = SMT_EMPTY, opts: { reader?: SmtNodeReader, cache?: number } = {}) {
    this.currentRoot = root
    this.reader = opts.reader ?? null
    this.cacheLimit = Math.max(16, opts.cache ?? DEFAULT_SMT_CACHE)
  }

  get root (): Uint8Array { return this.currentRoot }
  get backed (): boolean { return this.reader !== null }

  /** Reads nodes from storage from now on; nodes held so far stay until an apply marked persisted. */
  attachReader (reader: SmtNodeReader): void { this.reader = reader }

  /** Nodes held in memory that the reader does not have: written with the next persisted block. */
  unpersisted (): SmtNodeWrite[] {
    const out: SmtNodeWrite[] = []
    for (const [k, v] of this.own) out.push([Uint8Array.from(k, c => c.charCodeAt(0)), v])
    return out
  }

  private read (pos: Uint8Array, key: string, depth: number): SmtNode | undefined {
    const own = this.own.get(key)
    if (own !== undefined) return own ?? undefined
    if (this.reader === null || this.own.has(key)) return undefined
    const hot = depth <= TOP_DEPTH ? this.top.get(key) : this.cache.get(key)
    if (hot !== undefined) return hot
    const bytes = this.reader(pos)
    if (bytes === undefined) return undefined
    const node = decodeSmtNode(bytes, toHexShort(pos))
    this.remember(key, depth, node)
    return node
  }

  private remember (key: string, depth: number, node: SmtNode): void {
    if (depth <= TOP_DEPTH) { this.top.set(key, node); return }
    if (this.cache.size >= this.cacheLimit) {
      let drop = Math.max(1, this.cacheLimit >> 3)
      for (const old of this.cache.keys()) { this.cache.delete(old); if (--drop === 0) break }
    }
    this.cache.set(key, node)
  }

  /**
   * The tree after `changes` (sorted by path, unique), without changing this tree.
   * A null valueHash deletes the path (a no-op if absent).
   */
  update (changes: SmtChange[]): SmtUpdate {
    for (let i = 1; i < changes.length; i++) {
      if (compareBytes(changes[i - 1].path, changes[i].path) >= 0) throw new SmtError('SMT_UNSORTED', 'changes must be sorted by path, without repeats', i)
    }
    if (changes.length === 0) return { prevRoot: this.currentRoot, root: this.currentRoot, nodes: [] }
    const writes = new Map<string, SmtNodeWrite>()
    const view = (pos: Uint8Array, key: string, depth: number): SmtNode | undefined => {
      const w = writes.get(key)
      if (w !== undefined) return w[1] ?? undefined
      return this.read(pos, key, depth)
    }
    const put = (pos: Uint8Array, key: string, node: SmtNode | null): void => { writes.set(key, [pos, node]) }
    const hashOf = (n: SmtNode | undefined): Uint8Array => n === undefined ? SMT_EMPTY : smtNodeHash(n)

    /** Subtree at (depth, prefix of changes[lo].path) after changes[lo..hi): its node or undefined (empty). */
    const build = (depth: number, lo: number, hi: number): SmtNode | undefined => {
      const pos = smtPosition(changes[lo].path, depth)
      const key = posString(pos)
      const node = view(pos, key, depth)
      if (node !== undefined && !node.leaf) {
        const m = splitAt(changes, lo, hi, depth)
        const left = m > lo ? build(depth + 1, lo, m) : null // null: unchanged
        const right = hi > m ? build(depth + 1, m, hi) : null
        const lh = left === null ? node.a : hashOf(left)
        const rh = right === null ? node.b : hashOf(right)
        const lEmpty = bytesEqual(lh, SMT_EMPTY)
        const rEmpty = bytesEqual(rh, SMT_EMPTY)
        if (lEmpty && rEmpty) { put(pos, key, null); return undefined }
        if (lEmpty || rEmpty) {
          // One side left: if it is a lone leaf it moves up here (a subtree of one leaf is that leaf).
          const side = lEmpty ? right : left
          let child = side ?? undefined
          let childPos: Uint8Array | null = null
          let childKey = ''
          if (side === null || side?.leaf === true) {
            const childPath = changes[lo].path.slice()
            setBit(childPath, depth, lEmpty ? 1 : 0)
            childPos = smtPosition(childPath, depth + 1)
            childKey = posString(childPos)
            if (side === null) child = view(childPos, childKey, depth + 1)
          }
          if (child !== undefined && child.leaf && childPos !== null) {
            put(childPos, childKey, null)
            put(pos, key, child)
            return child
          }
        }
        const inner = innerNode(lh, rh)
        put(pos, key, inner)
        return inner
      }
      // An empty position or a lone leaf: everything below is rebuilt from the leaves.
      const leaves: SmtNode[] = []
      let existing: SmtNode | null = node ?? null
      for (let i = lo; i < hi; i++) {
        const c = changes[i]
        if (existing !== null) {
          const cmp = compareBytes(existing.a, c.path)
          if (cmp < 0) { leaves.push(existing); existing = null } else if (cmp === 0) existing = null
        }
        if (c.valueHash !== null) leaves.push(leafNode(c.path, c.valueHash))
      }
      if (existing !== null) leaves.push(existing)
      const fresh = this.fresh(depth, leaves, 0, leaves.length, put)
      if (fresh === undefined) { if (node !== undefined) put(pos, key, null) } else put(pos, key, fresh)
      return fresh
    }
    const root = hashOf(build(0, 0, changes.length))
    return { prevRoot: this.currentRoot, root, nodes: [...writes.values()] }
  }

  /** A subtree built from leaves only (nothing stored below this position); writes the nodes below it. */
  private fresh (depth: number, leaves: SmtNode[], lo: number, hi: number, put: (pos: Uint8Array, key: string, node: SmtNode | null) => void): SmtNode | undefined {
    if (hi === lo) return undefined
    if (hi - lo === 1) return leaves[lo]
    if (depth >= 256) throw new SmtError('SMT_UNSORTED', 'two leaves with one path', depth)
    let m = lo
    while (m < hi && bit(leaves[m].a, depth) === 0) m++
    const left = this.fresh(depth + 1, leaves, lo, m, put)
    const right = this.fresh(depth + 1, leaves, m, hi, put)
    if (left !== undefined) { const p = smtPosition(leaves[lo].a, depth + 1); put(p, posString(p), left) }
    if (right !== undefined) { const p = smtPosition(leaves[m].a, depth + 1); put(p, posString(p), right) }
    return innerNode(left === undefined ? SMT_EMPTY : smtNodeHash(left), right === undefined ? SMT_EMPTY : smtNodeHash(right))
  }

  /**
   * Moves the tree to an update built on its current root. `persisted`: the reader now
   * holds these nodes (and every earlier update's), so nothing needs to stay in memory.
   */
  apply (u: SmtUpdate, opts: { persisted?: boolean } = {}): void {
    if (!bytesEqual(u.prevRoot, this.currentRoot)) throw new SmtError('SMT_ROOT_MISMATCH', 'update was built on another root', toHexShort(u.prevRoot))
    const durable = this.reader !== null && opts.persisted === true
    if (durable) this.own.clear()
    for (const [pos, node] of u.nodes) {
      const key = posString(pos)
      const depth = (pos[0] << 8) | pos[1]
      if (durable) {
        if (node === null) { this.top.delete(key); this.cache.delete(key) } else this.remember(key, depth, node)
      } else if (this.reader === null && node === null) {
        this.own.delete(key)
      } else {
        this.own.set(key, node)
      }
    }
    this.currentRoot = u.root
  }

  /** Inclusion or absence proof for a path at the current root. */
  prove (path: Uint8Array): SmtProof {
    const siblings: Uint8Array[] = []
    for (let depth = 0; depth <= 256; depth++) {
      const pos = smtPosition(path, depth)
      const node = this.read(pos, posString(pos), depth)
      if (node === undefined) return { siblings, leaf: null }
      if (node.leaf) return { siblings, leaf: { path: node.a.slice(), valueHash: node.b.slice() } }
      siblings.push(bit(path, depth) === 0 ? node.b.slice() : node.a.slice())
    }
    throw new SmtError('SMT_NODE_CORRUPT', 'walk deeper than 256 levels', null)
  }

  /** Whether the stored root node hashes to the root (a cheap start-up check; recomputeRoot checks all). */
  rootNodeMatches (): boolean {
    const pos = smtPosition(new Uint8Array(32), 0)
    const node = this.read(pos, posString(pos), 0)
    return bytesEqual(node === undefined ? SMT_EMPTY : smtNodeHash(node), this.currentRoot)
  }

  /** Every leaf, in path order. */
  * walk (): Generator<{ path: Uint8Array, valueHash: Uint8Array }> {
    const stack: Array<{ depth: number, path: Uint8Array }> = [{ depth: 0, path: new Uint8Array(32) }]
    while (stack.length > 0) {
      const { depth, path } = stack.pop() as { depth: number, path: Uint8Array }
      const pos = smtPosition(path, depth)
      const node = this.read(pos, posString(pos), depth)
      if (node === undefined) continue
      if (node.leaf) { yield { path: node.a, valueHash: node.b }; continue }
      const right = path.slice(); setBit(right, depth, 1)
      if (!bytesEqual(node.b, SMT_EMPTY)) stack.push({ depth: depth + 1, path: right })
      if (!bytesEqual(node.a, SMT_EMPTY)) stack.push({ depth: depth + 1, path: path.slice() })
    }
  }

  /** Recomputes the root from the stored nodes, checking every stored hash link; throws SMT_NODE_CORRUPT naming the position. */
  recomputeRoot (): Uint8Array {
    const rec = (depth: number, path: Uint8Array): Uint8Array => {
      const pos = smtPosition(path, depth)
      const node = this.read(pos, posString(pos), depth)
      if (node === undefined) return SMT_EMPTY
      if (node.leaf) {
        for (let i = 0; i < depth; i++) if (bit(node.a, i) !== bit(path, i)) throw new SmtError('SMT_NODE_CORRUPT', `leaf at depth ${depth} is off its path`, toHexShort(pos))
        return smtNodeHash(node)
      }
      const right = path.slice(); setBit(right, depth, 1)
      const lh = bytesEqual(node.a, SMT_EMPTY) ? SMT_EMPTY : rec(depth + 1, path)
      const rh = bytesEqual(node.b, SMT_EMPTY) ? SMT_EMPTY : rec(depth + 1, right)
      if (!bytesEqual(lh, node.a) || !bytesEqual(rh, node.b)) {
        throw new SmtError('SMT_NODE_CORRUPT', `tree node at depth ${depth} does not hash its children`, toHexShort(pos))
      }
      return smtNodeHash(node)
    }
    return rec(0, new Uint8Array(32))
  }
}

/** Root reached from a proof for `path`; compare with a trusted root. */
export function smtProofRoot (path: Uint8Array, proof: SmtProof): Uint8Array {
  let h = proof.leaf === null ? SMT_EMPTY : smtLeafHash(proof.leaf.path, proof.leaf.valueHash)
  for (let i = proof.siblings.length - 1; i >= 0; i--) {
    h = bit(path, i) === 0 ? innerHash(h, proof.siblings[i]) : innerHash(proof.siblings[i], h)
  }
  return h
}

/**
 * Checks a proof for `path` against `root`: returns the proven value hash (inclusion) or
 * null (absence), or throws SMT_PROOF_INVALID.
 */
export function verifySmtProof (root: Uint8Array, path: Uint8Array, proof: SmtProof): Uint8Array | null {
  if (proof.siblings.length > 256) throw new SmtError('SMT_PROOF_INVALID', 'proof deeper than 256 levels', proof.siblings.length)
  if (proof.leaf !== null) {
    // The terminal leaf must sit on the path's branch, else its position proves nothing.
    for (let i = 0; i < proof.siblings.length; i++) {
      if (bit(proof.leaf.path, i) !== bit(path, i)) throw new SmtError('SMT_PROOF_INVALID', `terminal leaf leaves the path at depth ${i}`, i)
    }
  }
  if (!bytesEqual(smtProofRoot(path, proof), root)) throw new SmtError('SMT_PROOF_INVALID', 'proof does not lead to the root', null)
  if (proof.leaf !== null && bytesEqual(proof.leaf.path, path)) return proof.leaf.valueHash
  return null
}

function splitAt (changes: SmtChange[], lo: number, hi: number, depth: number): number {
  let a = lo; let b = hi
  while (a < b) { const mid = (a + b) >> 1; if (bit(changes[mid].path, depth) === 0) a = mid + 1; else b = mid }
  return a
}

function setBit (path: Uint8Array, i: number, v: number): void {
  const mask = 1 << (7 - (i & 7))
  if (v === 1) path[i >> 3] |= mask; else path[i >> 3] &= ~mask
}

function toHexShort (b: Uint8Array): string { return Buffer.from(b).toString('hex') }

export type SmtErrorCode = 'SMT_UNSORTED' | 'SMT_ROOT_MISMATCH' | 'SMT_NODE_CORRUPT' | 'SMT_PROOF_INVALID'

export class SmtError extends Error {
  constructor (readonly code: SmtErrorCode, message: string, readonly value: unknown) {
    super(message)
    this.name = 'SmtError'
  }
}
