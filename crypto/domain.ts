import { concatBytes, utf8 } from '../codec/index.js'

/**
 * Purposes a signature can serve. The tag and the chain id are part of every signed
 * payload, so a signature made for one purpose or one chain verifies for no other.
 */
export type DomainTag = 'tx' | 'proposal' | 'prevote' | 'precommit' | 'genesis'

const PREFIX = 'medchain/v1'

/** The bytes actually signed: length-prefixed prefix, tag and chain id, then the body. */
export function signingBytes (tag: DomainTag, chainId: string, body: Uint8Array): Uint8Array {
  const p = utf8(PREFIX)
  const t = utf8(tag)
  const c = utf8(chainId)
  if (c.length > 255) throw new RangeError(`chain id longer than 255 bytes: ${chainId}`)
  return concatBytes(Uint8Array.of(p.length), p, Uint8Array.of(t.length), t, Uint8Array.of(c.length), c, body)
}
