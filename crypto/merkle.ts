import { sha256 } from './hash.js'
import { bytesEqual } from '../codec/index.js'

// RFC 6962 §2.1: distinct prefixes for leaves and inner nodes, so a leaf can never be
// passed off as an inner node (second-preimage attack on the tree).
const LEAF = Uint8Array.of(0)
const NODE = Uint8Array.of(1)

export function leafHash (leaf: Uint8Array): Uint8Array { return sha256(LEAF, leaf) }
export function nodeHash (left: Uint8Array, right: Uint8Array): Uint8Array { return sha256(NODE, left, right) }

/** Largest power of two strictly less than n (n >= 2). */
function split (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function rootOfHashes (hashes: Uint8Array[], from: number, to: number): Uint8Array {
  const n = to - from
  if (n === 1) return hashes[from]
  const k = split(n)
  return nodeHash(rootOfHashes(hashes, from, from + k), rootOfHashes(hashes, from + k, to))
}

/** Merkle Tree Hash of RFC 6962; the empty tree hashes to sha256(""). */
export function merkleRoot (leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256()
  return rootOfHashes(leaves.map(leafHash), 0, leaves.length)
}

/** Audit path for leaf `index` (RFC 6962 §2.1.1), siblings from the leaf upwards. */
export function merkleProof (leaves: Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) throw new RangeError(`leaf index ${index} outside 0..${leaves.length - 1}`)
  const hashes = leaves.map(leafHash)
  const path: Uint8Array[] = []
  const walk = (from: number, to: number, m: number): void => {
    const n = to - from
    if (n === 1) return
    const k = split(n)
    if (m < k) { walk(from, from + k, m); path.push(rootOfHashes(hashes, from + k, to)) } else { walk(from + k, to, m - k); path.push(rootOfHashes(hashes, from, from + k)) }
  }
  walk(0, leaves.length, index)
  return path
}

/** Checks an audit path (RFC 9162 §2.1.3.2 algorithm). */
export function verifyMerkleProof (leaf: Uint8Array, index: number, size: number, proof: Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false
  let fn = index
  let sn = size - 1
  let r = leafHash(leaf)
  for (const p of proof) {
    if (sn === 0) return false
    if ((fn & 1) === 1 || fn === sn) {
      r = nodeHash(p, r)
      if ((fn & 1) === 0) { while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1 } }
    } else {
      r = nodeHash(r, p)
    }
    fn >>= 1
    sn >>= 1
  }
  return sn === 0 && bytesEqual(r, root)
}
