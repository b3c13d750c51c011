import { encode } from '../codec/index.js'
import { Ed25519Signer, publicKeyFromSeed, sha256, signWithNoble, type DomainTag } from '../crypto/index.js'
import { TX_VERSION } from './constants.js'
import type { TxBody, TxKind } from './kinds.js'
import { encodeEnvelope, type UnsignedTx } from './tx.js'

/** Anything that signs domain-separated bytes: an Ed25519Signer, or seedSigner(seed). */
export interface TxSigner {
  readonly publicKey: Uint8Array
  sign: (tag: DomainTag, chainId: string, body: Uint8Array) => Uint8Array
}

/** A pure-JS (noble) signer from a 32-byte seed, for clients. */
export function seedSigner (seed: Uint8Array): TxSigner {
  const publicKey = publicKeyFromSeed(seed)
  return { publicKey, sign: (tag, chainId, body) => signWithNoble(tag, chainId, body, seed) }
}

/** A fast native (libsodium) signer from a 32-byte seed, for tests and load generation. */
export function fastSigner (seed: Uint8Array): TxSigner {
  return new Ed25519Signer(seed)
}

export interface BuildOptions {
  chainId: string
  /** A TxSigner, or a 32-byte seed (signed with noble). */
  signer: TxSigner | Uint8Array
  nonce: number
  /** Client time in ms (informational). */
  time?: number
}

export interface BuiltTx {
  bytes: Uint8Array
  id: Uint8Array
  tx: UnsignedTx
}

/** Builds, signs and encodes one transaction envelope. */
export function buildTx<K extends TxKind> (kind: K, body: TxBody<K>, opts: BuildOptions): BuiltTx {
  const signer = opts.signer instanceof Uint8Array ? seedSigner(opts.signer) : opts.signer
  const tx: UnsignedTx = { v: TX_VERSION, chainId: opts.chainId, kind, sender: signer.publicKey, nonce: opts.nonce, body: stripUndefined(body) as UnsignedTx['body'] }
  if (opts.time !== undefined) tx.time = opts.time
  const sig = signer.sign('tx', opts.chainId, encode(tx))
  // A plain copy: encode may hand back a Buffer, whose slice() is a view, not a copy.
  const bytes = new Uint8Array(encodeEnvelope(tx, sig))
  return { bytes, id: sha256(bytes), tx }
}

/** CBOR has no undefined: drop fields set to undefined so callers may pass optional values freely. */
function stripUndefined (body: object): object {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) if (v !== undefined) out[k] = v
  return out
}

type Builder<K extends TxKind> = (opts: BuildOptions, body: TxBody<K>) => BuiltTx
const builder = <K extends TxKind>(kind: K): Builder<K> => (opts, body) => buildTx(kind, body, opts)

export const registerProvider = builder('provider.register')
export const suspendProvider = builder('provider.suspend')
export const reinstateProvider = builder('provider.reinstate')
export const registerPatient = builder('patient.register')
export const rotatePatientKey = builder('patient.rotate_key')
export const approveRecovery = builder('patient.recover')
export const grantConsent = builder('consent.grant')
export const revokeConsent = builder('consent.revoke')
export const requestAccess = builder('access.request')
export const logAccess = builder('access.log')
export const breakGlass = builder('access.break_glass')
export const anchorRecord = builder('record.anchor')
export const amendRecord = builder('record.amend')
export const eraseRecord = builder('record.erase')
export const designateRepresentative = builder('representation.designate')
export const revokeRepresentation = builder('representation.revoke')
export const readTrailAsRepresentative = builder('representation.read_trail')
