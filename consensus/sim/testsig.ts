import { createHash, timingSafeEqual } from 'node:crypto'
import { toHex } from '../../codec/index.js'
import { sha256, signingBytes, type DomainTag } from '../../crypto/index.js'
import type { ConsensusSigner, ConsensusVerifier } from '../types.js'

const prefixes = new Map<string, Uint8Array>()
/** signingBytes(tag, chainId, body) = prefix(tag, chainId) || body; the prefix is cached. */
function prefix (tag: DomainTag, chainId: string): Uint8Array {
  const k = `${tag}\u0000${chainId}`
  let p = prefixes.get(k)
  if (p === undefined) { p = signingBytes(tag, chainId, new Uint8Array(0)); prefixes.set(k, p) }
  return p
}

function mac (secret: Uint8Array, tag: DomainTag, chainId: string, body: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(secret).update(prefix(tag, chainId)).update(body).digest())
}

/**
 * Cheap deterministic signatures for simulation only: signature = sha256(secret || signing bytes),
 * public key = sha256(secret). Real ed25519 would dominate a simulation's cost; the core sees
 * the same signer/verifier interface either way. Not a signature scheme: anyone holding the
 * registry can forge, which the simulator never does on behalf of another replica.
 */
export class TestSigner implements ConsensusSigner {
  readonly publicKey: Uint8Array
  constructor (readonly secret: Uint8Array) { this.publicKey = sha256(secret) }
  sign (tag: DomainTag, chainId: string, body: Uint8Array): Uint8Array {
    return mac(this.secret, tag, chainId, body)
  }
}

/** A verifier knowing the secrets of the simulated validators. */
export function testVerifier (signers: readonly TestSigner[]): ConsensusVerifier {
  const secrets = new Map<string, Uint8Array>()
  for (const s of signers) secrets.set(toHex(s.publicKey), s.secret)
  const byObject = new WeakMap<Uint8Array, Uint8Array | undefined>() // validator keys are shared objects: skip hex
  return (tag, chainId, body, publicKey, signature) => {
    let secret = byObject.get(publicKey)
    if (secret === undefined) { secret = secrets.get(toHex(publicKey)); byObject.set(publicKey, secret) }
    if (secret === undefined || signature.length !== 32) return false
    return timingSafeEqual(mac(secret, tag, chainId, body), signature)
  }
}
