import { decode, encode } from '../codec/index.js'
import { merkleProof, merkleRoot } from '../crypto/index.js'
import type { Append } from './state.js'

/**
 * What a block header commits to for each transaction (its leaf in the results root):
 * the result code, the log (the reason of a failure), the access decision when the
 * transaction made one, and the audit entries it appended, as stored.
 */
export interface ResultLeaf {
  code: string
  log?: string
  /** The access decision (access.log, access.break_glass, a refused write). */
  decision?: { permit: boolean, reason: string }
  /** [audit key, canonical CBOR AuditEntry] in append order. */
  audit: Array<[string, Uint8Array]>
}

interface ResultLike { code: string, log?: string, events: Array<{ type: string, attributes: Record<string, string | number | boolean> }> }

/** The decision a result records, if it made one. */
export function decisionOf (r: ResultLike): ResultLeaf['decision'] {
  for (const ev of r.events) {
    if (ev.type === 'access.logged') return { permit: ev.attributes.permit === true, reason: String(ev.attributes.reason) }
    if (ev.type === 'access.break_glass') return { permit: true, reason: 'BREAK_GLASS' }
  }
  if (r.code === 'WRITE_DENIED') return { permit: false, reason: r.log ?? 'WRITE_DENIED' }
  return undefined
}

export function resultLeaf (r: ResultLike, audit: Append[]): ResultLeaf {
  const leaf: ResultLeaf = { code: r.code, audit: audit.map(([k, v]) => [k, v]) }
  if (r.log !== undefined) leaf.log = r.log
  const d = decisionOf(r)
  if (d !== undefined) leaf.decision = d
  return leaf
}

export const encodeResultLeaf = (leaf: ResultLeaf): Uint8Array => encode(leaf)
export function decodeResultLeaf (bytes: Uint8Array): ResultLeaf { return decode(bytes, { maxBytes: 1024 * 1024, maxDepth: 8 }) as ResultLeaf }

/** RFC 6962 Merkle root over the encoded result leaves, in block order (the header's resultsRoot). */
export function resultsRoot (leaves: Uint8Array[]): Uint8Array { return merkleRoot(leaves) }
export function resultProof (leaves: Uint8Array[], index: number): Uint8Array[] { return merkleProof(leaves, index) }
