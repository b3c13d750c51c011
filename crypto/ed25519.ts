import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import * as ed from '@noble/ed25519'
import { sha512 } from './hash.js'
import { signingBytes, type DomainTag } from './domain.js'

ed.hashes.sha512 = (m: Uint8Array) => sha512(m) as Uint8Array<ArrayBuffer>

export const PUBLIC_KEY_LENGTH = 32
export const SIGNATURE_LENGTH = 64
export const SEED_LENGTH = 32

// DER prefixes for raw ed25519 keys (RFC 8410), so node:crypto can import 32 raw bytes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

// Group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L_LE = Uint8Array.from(Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex'))

/** a < b for 32-byte little-endian integers, compared from the most significant byte. */
function lessThanLE (a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (a[i] !== b[i]) return a[i] < b[i]
  }
  return false
}

/** Whether the 255-bit y-coordinate (top bit is the sign of x) is >= p = 2^255 - 19. */
function yNotCanonical (b: Uint8Array): boolean {
  if ((b[31] & 0x7f) !== 0x7f) return false
  for (let i = 30; i >= 1; i--) if (b[i] !== 0xff) return false
  return b[0] >= 0xed
}

// The eight small-order points' canonical encodings (order 1, 2, 4, 8): a signature
// under such a key proves nothing, so they are refused as keys.
const SMALL_ORDER_KEYS = new Set([
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85'
])

/**
 * The one verification rule of the chain (RFC 8032 strict, plus no small-order keys):
 * lengths exact, key y-coordinate canonical (< p) and not of small order, S < L.
 * These are checked here before node:crypto so the rule does not depend on what a
 * given OpenSSL build accepts; every validator runs this same function.
 */
export function isStrictlyWellFormed (publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false
  if (yNotCanonical(publicKey) || yNotCanonical(signature.subarray(0, 32))) return false
  if (!lessThanLE(signature.subarray(32), L_LE)) return false
  return !SMALL_ORDER_KEYS.has(Buffer.from(publicKey.buffer, publicKey.byteOffset, 32).toString('hex'))
}

const publicKeyCache = new Map<string, KeyObject>()
// Each cached KeyObject holds native memory (~1-2 KB); 16 k covers the active senders and the
// validators, while one-off keys (a patient registering) are not kept forever.
const PUBLIC_KEY_CACHE_MAX = 16_384

function publicKeyObject (publicKey: Uint8Array): KeyObject {
  const hex = Buffer.from(publicKey).toString('hex')
  let key = publicKeyCache.get(hex)
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_MAX) publicKeyCache.clear()
    publicKeyCache.set(hex, key)
  }
  return key
}

/** Verifies raw bytes with node:crypto's native Ed25519 under the strict rule. Never throws. */
export function verifyRaw (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!isStrictlyWellFormed(publicKey, signature)) return false
  try {
    return nodeVerify(null, message, publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}

/** Verifies a domain-separated signature. */
export function verify (tag: DomainTag, chainId: string, body: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): boolean {
  return verifyRaw(publicKey, signingBytes(tag, chainId, body), signature)
}

/** A fresh 32-byte secret seed. */
export function generateSeed (): Uint8Array {
  return ed.utils.randomSecretKey()
}

export function publicKeyFromSeed (seed: Uint8Array): Uint8Array {
  if (seed.length !== SEED_LENGTH) throw new RangeError(`ed25519 seed must be 32 bytes, got ${seed.length}`)
  return ed.getPublicKey(seed)
}

/** Client-side signing with @noble/ed25519 (CLI, client library, tests). */
export function signWithNoble (tag: DomainTag, chainId: string, body: Uint8Array, seed: Uint8Array): Uint8Array {
  return ed.sign(signingBytes(tag, chainId, body), seed)
}

/** Pure-JS verification, used only as a cross-check of the native path in tests and bench. */
export function verifyWithNoble (tag: DomainTag, chainId: string, body: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (!isStrictlyWellFormed(publicKey, signature)) return false
  try { return ed.verify(signature, signingBytes(tag, chainId, body), publicKey, { zip215: false }) } catch { return false }
}

/**
 * A signing key held as a node:crypto KeyObject (imported once: ~10x faster than
 * re-importing per signature). Used by validators for votes, proposals and load tests.
 */
export class Ed25519Signer {
  readonly publicKey: Uint8Array
  private readonly key: KeyObject
  constructor (seed: Uint8Array) {
    if (seed.length !== SEED_LENGTH) throw new RangeError(`ed25519 seed must be 32 bytes, got ${seed.length}`)
    this.key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
    this.publicKey = new Uint8Array(createPublicKey(this.key).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length))
  }

  signRaw (message: Uint8Array): Uint8Array {
    return new Uint8Array(nodeSign(null, message, this.key))
  }

  sign (tag: DomainTag, chainId: string, body: Uint8Array): Uint8Array {
    return this.signRaw(signingBytes(tag, chainId, body))
  }
}
