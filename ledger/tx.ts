import { s, decode, encode, toHex, CodecError } from '../codec/index.js'
import { publicKeyProblem, sha256, verify } from '../crypto/index.js'
import { LedgerError } from './errors.js'
import { MAX_TX_BYTES, TX_VERSION } from './constants.js'
import { BODY_SCHEMAS, crossFieldProblem, isTxKind, type AnyTxBody, type TxBody, type TxKind } from './kinds.js'

const anyValue = { name: 'any', check: (v: unknown) => v }

const unsignedSchema = s.struct({
  v: s.uint(),
  chainId: s.text(255),
  kind: s.text(64),
  sender: s.bytes(32),
  nonce: s.uint(),
  time: s.optional(s.uint()),
  body: anyValue
})

const envelopeSchema = s.struct({ tx: anyValue, sig: s.bytes(64) })

export interface UnsignedTx<K extends TxKind = TxKind> {
  v: 1
  chainId: string
  kind: K
  sender: Uint8Array
  nonce: number
  /** Client clock in ms, informational only: execution uses block time. */
  time?: number
  body: AnyTxBody
}

export interface DecodedTx {
  /** sha256 of the envelope bytes. */
  id: Uint8Array
  idHex: string
  /** The envelope bytes exactly as received (canonical). */
  bytes: Uint8Array
  tx: UnsignedTx
  /** Canonical bytes of `tx`: what the sender signed (under the 'tx' domain tag). */
  txBytes: Uint8Array
  sig: Uint8Array
}

export interface DecodeTxOptions {
  /** Skip the signature check (the caller verifies once with verifyTxSignature and caches). */
  skipSignature?: boolean
}

function malformed (err: unknown): LedgerError {
  if (err instanceof CodecError) {
    const code = err.code === 'CODEC_NON_CANONICAL' ? 'TX_NON_CANONICAL' : err.code === 'CODEC_OVERSIZE' ? 'TX_OVERSIZE' : 'TX_MALFORMED'
    return new LedgerError(code, `${err.code}: ${err.message}`, err.value ?? err.path)
  }
  throw err
}

/**
 * Stateless checks of a transaction envelope: size, canonical CBOR, closed schema of
 * its kind, chain id, and (unless skipped) the sender's signature. Throws LedgerError.
 */
export function decodeTx (bytes: Uint8Array, chainId: string, options: DecodeTxOptions = {}): DecodedTx {
  if (!(bytes instanceof Uint8Array)) throw new LedgerError('TX_MALFORMED', 'transaction is not bytes')
  if (bytes.length > MAX_TX_BYTES) throw new LedgerError('TX_OVERSIZE', `${bytes.length} bytes exceeds ${MAX_TX_BYTES}`, bytes.length)
  let tx: UnsignedTx
  let sig: Uint8Array
  try {
    const env = envelopeSchema.check(decode(bytes, { maxBytes: MAX_TX_BYTES, maxDepth: 8 }), '')
    sig = env.sig
    const raw = unsignedSchema.check(env.tx, 'tx')
    if (raw.v !== TX_VERSION) throw new LedgerError('TX_BAD_VERSION', `unsupported version ${raw.v}`, raw.v)
    if (raw.chainId !== chainId) throw new LedgerError('TX_WRONG_CHAIN', `chain id ${raw.chainId} is not ${chainId}`, raw.chainId)
    if (!isTxKind(raw.kind)) throw new LedgerError('TX_UNKNOWN_KIND', `unknown kind ${raw.kind}`, raw.kind)
    const body = BODY_SCHEMAS[raw.kind].check(raw.body, 'tx.body') as AnyTxBody
    const problem = crossFieldProblem(raw.kind, body)
    if (problem !== null) throw new LedgerError('TX_MALFORMED', `${raw.kind}: ${problem}`, raw.kind)
    tx = { ...raw, v: TX_VERSION, kind: raw.kind, body }
  } catch (err) {
    if (err instanceof LedgerError) throw err
    throw malformed(err)
  }
  const txBytes = signedSlice(bytes) ?? encode(tx)
  const decoded: DecodedTx = { id: sha256(bytes), idHex: '', bytes, tx, txBytes, sig }
  decoded.idHex = toHex(decoded.id)
  if (options.skipSignature !== true && !checkTxSignature(decoded)) throw signatureError(decoded)
  return decoded
}

/**
 * Why a signature did not verify. A sender key that fails the key rule never verifies
 * (libsodium refuses it), so it is named as TX_BAD_KEY, the code of every refused key;
 * looked at only after a failure, so a good transaction pays nothing for it.
 */
function signatureError (decoded: DecodedTx): LedgerError {
  const sender = decoded.tx.sender
  const problem = publicKeyProblem(sender)
  if (problem !== null) return new LedgerError('TX_BAD_KEY', `tx.sender is not an acceptable ed25519 public key (${problem})`, { field: 'tx.sender', key: toHex(sender), problem })
  return new LedgerError('TX_BAD_SIGNATURE', 'signature does not verify for the sender', toHex(sender))
}

// A canonical envelope is the map {tx, sig}: keys sort "tx" (0x62…) before "sig" (0x63…), so it
// is a2 | 62 'tx' | <tx> | 63 'sig' | 58 40 | <64-byte sig>, and the signed bytes are a slice of
// it: no need to encode the transaction again.
const ENVELOPE_HEAD = Uint8Array.of(0xa2, 0x62, 0x74, 0x78)
const ENVELOPE_SIG_KEY = Uint8Array.of(0x63, 0x73, 0x69, 0x67, 0x58, 0x40)

function signedSlice (bytes: Uint8Array): Uint8Array | null {
  const tail = bytes.length - 70
  if (tail <= ENVELOPE_HEAD.length) return null
  for (let i = 0; i < ENVELOPE_HEAD.length; i++) if (bytes[i] !== ENVELOPE_HEAD[i]) return null
  for (let i = 0; i < ENVELOPE_SIG_KEY.length; i++) if (bytes[tail + i] !== ENVELOPE_SIG_KEY[i]) return null
  return bytes.subarray(ENVELOPE_HEAD.length, tail)
}

/** Whether the envelope's signature is the sender's over the signed bytes. Never throws. */
export function checkTxSignature (decoded: DecodedTx): boolean {
  return verify('tx', decoded.tx.chainId, decoded.txBytes, decoded.tx.sender, decoded.sig)
}

/** Same as checkTxSignature but throws LedgerError TX_BAD_SIGNATURE (TX_BAD_KEY for a sender key the rule refuses). */
export function verifyTxSignature (decoded: DecodedTx): void {
  if (!checkTxSignature(decoded)) throw signatureError(decoded)
}

/** Canonical envelope bytes of a signed transaction. */
export function encodeEnvelope (tx: UnsignedTx, sig: Uint8Array): Uint8Array {
  return encode({ tx, sig })
}

/**
 * A transaction body checked the way decodeTx checks it (closed schema of its kind, whose
 * enums are the ledger's lists, and cross-field rules), typed; throws the LedgerError a node
 * would answer. Clients call it before signing, so a typo never leaves the machine.
 */
export function parseTxBody<K extends TxKind> (kind: K, body: unknown): TxBody<K> {
  if (!isTxKind(kind)) throw new LedgerError('TX_UNKNOWN_KIND', `unknown kind ${String(kind)}`, kind)
  let checked: TxBody<K>
  try {
    checked = BODY_SCHEMAS[kind].check(body, 'body') as TxBody<K>
  } catch (err) {
    throw malformed(err)
  }
  const problem = crossFieldProblem(kind, checked as AnyTxBody)
  if (problem !== null) throw new LedgerError('TX_MALFORMED', `${kind}: ${problem}`, kind)
  return checked
}
