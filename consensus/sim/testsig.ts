import { toHex, bytesEqual } from '../../codec/index.js'
import { sha256, signingBytes, type DomainTag } from '../../crypto/index.js'
import type { ConsensusSigner, ConsensusVerifier } from '../types.js'

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
    return sha256(this.secret, signingBytes(tag, chainId, body))
  }
}

/** A verifier knowing the secrets of the simulated validators. */
export function testVerifier (signers: readonly TestSigner[]): ConsensusVerifier {
  const secrets = new Map<string, Uint8Array>()
  for (const s of signers) secrets.set(toHex(s.publicKey), s.secret)
  return (tag, chainId, body, publicKey, signature) => {
    const secret = secrets.get(toHex(publicKey))
    if (secret === undefined || signature.length !== 32) return false
    return bytesEqual(sha256(secret, signingBytes(tag, chainId, body)), signature)
  }
}
