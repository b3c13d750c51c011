import sodium from 'sodium-native'
import { compareBytes, utf8 } from '../codec/index.js'
import { PUBLIC_KEY_LENGTH, SEED_LENGTH } from './ed25519.js'

// Free text on chain (request notes, break-glass reasons, record locators) is sealed on the
// client to the parties that need it, with libsodium's sealed box (crypto_box_seal: an
// ephemeral X25519 key, XSalsa20-Poly1305, nonce from BLAKE2b of both public keys). The
// recipients are named by their ed25519 keys, the keys the chain already knows, converted to
// X25519 with libsodium's birational map. Validators store and order the boxes; nothing in
// the ledger opens them.

/** Bytes a sealed box adds to its plaintext: the ephemeral public key (32) and the MAC (16). */
export const SEAL_OVERHEAD = 48
/** Plaintext is padded to a multiple of this, so a box tells its text's length only to 32 bytes. */
export const SEAL_PAD_BLOCK = 32
/** At most this many recipients per sealed text (the patient, the writer's organisation, …). */
export const SEAL_MAX_RECIPIENTS = 4

/** One box of a sealed text: `to` is the recipient's ed25519 public key. */
export interface SealedBox { to: Uint8Array, box: Uint8Array }
/** A text sealed to each recipient separately; boxes sorted by `to`, one per key. */
export interface SealedText { sealed: SealedBox[] }

export class SealError extends Error {
  readonly code: 'SEAL_BAD_KEY' | 'SEAL_NO_RECIPIENT' | 'SEAL_TOO_MANY_RECIPIENTS' | 'SEAL_BAD_PADDING'
  readonly value: unknown
  constructor (code: SealError['code'], message: string, value: unknown) {
    super(message)
    this.name = 'SealError'
    this.code = code
    this.value = value
  }
}

/** The X25519 public key of an ed25519 public key (libsodium's crypto_sign_ed25519_pk_to_curve25519). */
export function x25519PublicKey (ed25519PublicKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(32)
  try {
    if (ed25519PublicKey.length !== PUBLIC_KEY_LENGTH) throw new Error('length')
    sodium.crypto_sign_ed25519_pk_to_curve25519(out, ed25519PublicKey)
  } catch {
    throw new SealError('SEAL_BAD_KEY', 'not an ed25519 public key that converts to X25519', Buffer.from(ed25519PublicKey).toString('hex'))
  }
  return out
}

/** The X25519 key pair of an ed25519 seed (the `seed` of a key file). */
export function x25519KeyPair (seed: Uint8Array): { publicKey: Uint8Array, secretKey: Uint8Array } {
  if (seed.length !== SEED_LENGTH) throw new SealError('SEAL_BAD_KEY', `an ed25519 seed is ${SEED_LENGTH} bytes`, seed.length)
  const edPublic = new Uint8Array(32)
  const edSecret = new Uint8Array(64)
  sodium.crypto_sign_seed_keypair(edPublic, edSecret, seed)
  const secretKey = new Uint8Array(32)
  sodium.crypto_sign_ed25519_sk_to_curve25519(secretKey, edSecret)
  edSecret.fill(0)
  return { publicKey: x25519PublicKey(edPublic), secretKey }
}

/** ISO/IEC 7816-4 padding: 0x80, then zeros up to a multiple of SEAL_PAD_BLOCK. */
function pad (m: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil((m.length + 1) / SEAL_PAD_BLOCK) * SEAL_PAD_BLOCK)
  out.set(m)
  out[m.length] = 0x80
  return out
}

function unpad (p: Uint8Array): Uint8Array {
  let i = p.length - 1
  while (i >= 0 && p[i] === 0) i--
  if (i < 0 || p[i] !== 0x80) throw new SealError('SEAL_BAD_PADDING', 'the opened box is not padded text', p.length)
  return p.subarray(0, i)
}

/** Seals `message` (padded) to one ed25519 public key. */
export function sealTo (ed25519PublicKey: Uint8Array, message: Uint8Array): Uint8Array {
  const m = pad(message)
  const box = new Uint8Array(m.length + SEAL_OVERHEAD)
  sodium.crypto_box_seal(box, m, x25519PublicKey(ed25519PublicKey))
  return box
}

/** Opens a box sealed to the key of `seed`: the message, or null when it was not sealed to it (or was altered). */
export function openSealed (box: Uint8Array, seed: Uint8Array): Uint8Array | null {
  if (box.length < SEAL_OVERHEAD + SEAL_PAD_BLOCK) return null
  const { publicKey, secretKey } = x25519KeyPair(seed)
  const m = new Uint8Array(box.length - SEAL_OVERHEAD)
  const opened = sodium.crypto_box_seal_open(m, box, publicKey, secretKey)
  secretKey.fill(0)
  return opened ? unpad(m) : null
}

/** Seals `text` to each recipient (ed25519 public keys; duplicates count once), boxes sorted by key. */
export function sealText (text: string, recipients: Uint8Array[]): SealedText {
  const keys = [...new Map(recipients.map(k => [Buffer.from(k).toString('hex'), k])).values()].sort(compareBytes)
  if (keys.length === 0) throw new SealError('SEAL_NO_RECIPIENT', 'a sealed text needs at least one recipient', 0)
  if (keys.length > SEAL_MAX_RECIPIENTS) throw new SealError('SEAL_TOO_MANY_RECIPIENTS', `at most ${SEAL_MAX_RECIPIENTS} recipients`, keys.length)
  const message = utf8(text)
  return { sealed: keys.map(to => ({ to, box: sealTo(to, message) })) }
}

/** The text of a sealed text for the holder of `seed`, or null when no box is sealed to its key. */
export function openSealedText (sealed: SealedText, seed: Uint8Array): string | null {
  const { publicKey } = x25519KeyPair(seed)
  for (const { to, box } of sealed.sealed) {
    // Compare on the X25519 key: the box is for whoever holds its secret.
    let x: Uint8Array
    try { x = x25519PublicKey(to) } catch { continue }
    if (compareBytes(x, publicKey) !== 0) continue
    const m = openSealed(box, seed)
    if (m !== null) return new TextDecoder('utf-8', { fatal: true }).decode(m)
  }
  return null
}
