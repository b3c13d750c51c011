import sodium from 'sodium-native'
import * as ed from '@noble/ed25519'
import { sha512 } from './hash.js'
import { signingBytes, type DomainTag } from './domain.js'

ed.hashes.sha512 = (m: Uint8Array) => sha512(m) as Uint8Array<ArrayBuffer>

export const PUBLIC_KEY_LENGTH = 32
export const SIGNATURE_LENGTH = 64
export const SEED_LENGTH = 32

// The chain's one verification rule is libsodium's crypto_sign_verify_detached (see
// crypto/README.md, "The verification rule"); every verification in this repository goes
// through verifyRaw below. publicKeyProblem restates libsodium's conditions on A so that
// keys named inside a transaction body are held to the rule before anyone signs with them.

/** Why a byte string is not a public key the chain accepts. */
export type PublicKeyProblem = 'length' | 'non_canonical' | 'small_order' | 'not_on_curve'

// The y-coordinates (little-endian, sign bit of x cleared) of every point of order 1, 2, 4
// or 8, in every 255-bit spelling, canonical (y < p) or not (y >= p): libsodium's blocklist.
// Comparing with the sign bit masked also catches x = 0 written with the sign bit set.
const SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000', // y = 0, order 4
  '0100000000000000000000000000000000000000000000000000000000000000', // y = 1, the identity
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p - 1, order 2
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p, i.e. 0
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f' // y = p + 1, i.e. 1
].map(hex => Uint8Array.from(Buffer.from(hex, 'hex')))

// Base point, the second operand of the on-curve test below.
const BASE_POINT = Uint8Array.from(Buffer.from('5866666666666666666666666666666666666666666666666666666666666666', 'hex'))

/** Whether the 255-bit y-coordinate (the top bit is the sign of x) is >= p = 2^255 - 19. */
function yNotCanonical (b: Uint8Array): boolean {
  if ((b[31] & 0x7f) !== 0x7f) return false
  for (let i = 30; i >= 1; i--) if (b[i] !== 0xff) return false
  return b[0] >= 0xed
}

function hasSmallOrder (b: Uint8Array): boolean {
  return SMALL_ORDER_Y.some(y => {
    for (let i = 0; i < 31; i++) if (b[i] !== y[i]) return false
    return (b[31] & 0x7f) === y[31]
  })
}

/**
 * The reason `key` is not an acceptable public key, or null if it is: 32 bytes, y < p,
 * not a point of small order in any spelling, and a point of the curve. These are the
 * conditions libsodium's verify puts on A, so a key that passes here can sign, and one
 * that fails here verifies nothing.
 */
export function publicKeyProblem (key: Uint8Array): PublicKeyProblem | null {
  if (!(key instanceof Uint8Array) || key.length !== PUBLIC_KEY_LENGTH) return 'length'
  if (yNotCanonical(key)) return 'non_canonical'
  if (hasSmallOrder(key)) return 'small_order'
  const hex = Buffer.from(key.buffer, key.byteOffset, PUBLIC_KEY_LENGTH).toString('hex')
  if (acceptedKeys.has(hex)) return null
  try {
    // Adding the base point decodes `key` and fails iff it has no x on the curve.
    sodium.crypto_core_ed25519_add(new Uint8Array(32), key, BASE_POINT)
  } catch {
    return 'not_on_curve'
  }
  if (acceptedKeys.size >= ACCEPTED_KEYS_MAX) acceptedKeys.clear()
  acceptedKeys.add(hex)
  return null
}

// The curve check decodes two points (~7 µs); the same few provider keys come back in every
// grant, so keys that passed are remembered (bounded; a pure function's memo, so no state).
const acceptedKeys = new Set<string>()
const ACCEPTED_KEYS_MAX = 16_384

export function isValidPublicKey (key: Uint8Array): boolean {
  return publicKeyProblem(key) === null
}

/**
 * Verifies raw bytes under the chain's rule (libsodium, strict: canonical A and R, no
 * small-order A or R, S < L, cofactorless equation compared on R's bytes). Never throws.
 */
export function verifyRaw (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  // sodium-native accepts a longer signature and reads its first 64 bytes: exact lengths here.
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false
  return sodium.crypto_sign_verify_detached(signature, message, publicKey)
}

/** Verifies a domain-separated signature. */
export function verify (tag: DomainTag, chainId: string, body: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): boolean {
  return verifyRaw(publicKey, signingBytes(tag, chainId, body), signature)
}

/** A fresh 32-byte secret seed. */
export function generateSeed (): Uint8Array {
  const seed = new Uint8Array(SEED_LENGTH)
  sodium.randombytes_buf(seed)
  return seed
}

export function publicKeyFromSeed (seed: Uint8Array): Uint8Array {
  return keyPairFromSeed(seed).publicKey
}

function keyPairFromSeed (seed: Uint8Array): { publicKey: Uint8Array, secretKey: Uint8Array } {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_LENGTH) throw new RangeError(`ed25519 seed must be 32 bytes, got ${seed?.length}`)
  const publicKey = new Uint8Array(PUBLIC_KEY_LENGTH)
  const secretKey = new Uint8Array(64)
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  return { publicKey, secretKey }
}

/**
 * Pure-JS signing with @noble/ed25519, for clients without the native addon. Ed25519
 * signing is deterministic, so this gives the same bytes as Ed25519Signer. There is no
 * pure-JS verifier: verification has exactly one implementation, verifyRaw.
 */
export function signWithNoble (tag: DomainTag, chainId: string, body: Uint8Array, seed: Uint8Array): Uint8Array {
  return ed.sign(signingBytes(tag, chainId, body), seed)
}

/** A signing key held by libsodium. Used by validators for votes and proposals, and by tools. */
export class Ed25519Signer {
  readonly publicKey: Uint8Array
  private readonly secretKey: Uint8Array
  constructor (seed: Uint8Array) {
    const pair = keyPairFromSeed(seed)
    this.publicKey = pair.publicKey
    this.secretKey = pair.secretKey
  }

  signRaw (message: Uint8Array): Uint8Array {
    const sig = new Uint8Array(SIGNATURE_LENGTH)
    sodium.crypto_sign_detached(sig, message, this.secretKey)
    return sig
  }

  sign (tag: DomainTag, chainId: string, body: Uint8Array): Uint8Array {
    return this.signRaw(signingBytes(tag, chainId, body))
  }
}
