import { bytesEqual, decode, fromHex, toHex } from '../codec/index.js'
import { sha256, verify as ed25519Verify, verifyMerkleProof, verifySmtProof, type SmtProof } from '../crypto/index.js'
import { blockHash, verifyCommit, type BlockHeader, type Commit, type ConsensusVerifier, type Validator } from '../consensus/index.js'
import { decodeResultLeaf, decodeTx, grantStatus, statePath, stateValueHash, type Grant, type Patient, type RecordEntry, type ResultLeaf } from '../ledger/index.js'

/**
 * Receipts and state proofs: self-contained documents a patient, a regulator or a court
 * checks offline against the genesis alone. Both carry the header they are proven under
 * and the commit certificate (+2/3 of the validators' precommits) that makes it final.
 */

/** A committed transaction: its bytes and result leaf, each proven under the header's tx and results roots. */
export interface TxReceipt {
  type: 'tx'
  chainId: string
  height: number
  index: number
  tx: Uint8Array
  /** Encoded ResultLeaf: code, log, decision, the audit entries it appended. */
  result: Uint8Array
  txProof: Uint8Array[]
  resultProof: Uint8Array[]
  header: BlockHeader
  commit: Commit
}

/** What a state proof answers, so the verifier can say it in words. */
export type StateQuestion =
  | { kind: 'consent', patient: Uint8Array, grant: Uint8Array }
  | { kind: 'record', patient: Uint8Array, record: Uint8Array }
  | { kind: 'patient', patient: Uint8Array }
  | { kind: 'key' }

/** A state key's value (or its absence) under the header's state root. */
export interface StateProof {
  type: 'state'
  chainId: string
  height: number
  question: StateQuestion
  key: string
  /** Canonical CBOR value, or null: the key is absent. */
  value: Uint8Array | null
  proof: SmtProof
  header: BlockHeader
  commit: Commit
}

export type ProofDocument = TxReceipt | StateProof

export type ProofErrorCode =
  | 'PROOF_MALFORMED'
  | 'PROOF_WRONG_CHAIN'
  | 'PROOF_HEADER_MISMATCH'
  | 'PROOF_BAD_COMMIT'
  | 'PROOF_TX_MISMATCH'
  | 'PROOF_BAD_TX_PROOF'
  | 'PROOF_BAD_RESULT_PROOF'
  | 'PROOF_BAD_STATE_PROOF'
  | 'PROOF_KEY_MISMATCH'
  | 'PROOF_UNAVAILABLE'

export class ProofError extends Error {
  constructor (readonly code: ProofErrorCode, message: string, readonly value?: unknown) {
    super(message)
    this.name = 'ProofError'
  }
}

export const stateKeys = {
  consent: (patient: Uint8Array, grant: Uint8Array) => `consent/${toHex(patient)}/${toHex(grant)}`,
  record: (patient: Uint8Array, record: Uint8Array) => `record/${toHex(patient)}/${toHex(record)}`,
  patient: (patient: Uint8Array) => `patient/${toHex(patient)}`
}

/** The state key a question is about (a document's key must be this one). */
export function keyOfQuestion (q: StateQuestion, key: string): string {
  if (q.kind === 'consent') return stateKeys.consent(q.patient, q.grant)
  if (q.kind === 'record') return stateKeys.record(q.patient, q.record)
  if (q.kind === 'patient') return stateKeys.patient(q.patient)
  return key
}

// ---------------------------------------------------------------- JSON form

type Json = Record<string, unknown>

function bad (message: string, value?: unknown): never { throw new ProofError('PROOF_MALFORMED', message, value) }
function obj (v: unknown, what: string): Json { if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(`${what} must be an object`); return v as Json }
function hex (v: unknown, what: string, len?: number): Uint8Array {
  if (typeof v !== 'string') bad(`${what} must be a hex string`, v)
  try { return fromHex(v, len) } catch { bad(`${what} is not ${len === undefined ? '' : `${len}-byte `}hex`, v) }
}
function uint (v: unknown, what: string): number { if (!Number.isSafeInteger(v) || (v as number) < 0) bad(`${what} must be a non-negative integer`, v); return v as number }
function str (v: unknown, what: string): string { if (typeof v !== 'string') bad(`${what} must be a string`, v); return v }
function list (v: unknown, what: string, max = 4096): unknown[] { if (!Array.isArray(v) || v.length > max) bad(`${what} must be a list of at most ${max}`); return v }

export function headerToJson (h: BlockHeader): Json {
  return {
    chainId: h.chainId, height: h.height, time: h.time, proposer: toHex(h.proposer), prevHash: toHex(h.prevHash), lastCommitHash: toHex(h.lastCommitHash),
    txRoot: toHex(h.txRoot), txCount: h.txCount, stateRoot: toHex(h.stateRoot), resultsRoot: toHex(h.resultsRoot)
  }
}

export function headerFromJson (v: unknown): BlockHeader {
  const h = obj(v, 'header')
  return {
    chainId: str(h.chainId, 'header.chainId'), height: uint(h.height, 'header.height'), time: uint(h.time, 'header.time'),
    proposer: hex(h.proposer, 'header.proposer', 32), prevHash: hex(h.prevHash, 'header.prevHash', 32), lastCommitHash: hex(h.lastCommitHash, 'header.lastCommitHash', 32),
    txRoot: hex(h.txRoot, 'header.txRoot', 32), txCount: uint(h.txCount, 'header.txCount'), stateRoot: hex(h.stateRoot, 'header.stateRoot', 32),
    resultsRoot: hex(h.resultsRoot, 'header.resultsRoot', 32)
  }
}

export function commitToJson (c: Commit): Json {
  return { height: c.height, round: c.round, blockHash: toHex(c.blockHash), signatures: c.signatures.map(s => ({ validatorIndex: s.validatorIndex, signature: toHex(s.signature) })) }
}

export function commitFromJson (v: unknown): Commit {
  const c = obj(v, 'commit')
  return {
    height: uint(c.height, 'commit.height'), round: uint(c.round, 'commit.round'), blockHash: hex(c.blockHash, 'commit.blockHash', 32),
    signatures: list(c.signatures, 'commit.signatures', 256).map((s, i) => {
      const o = obj(s, `commit.signatures[${i}]`)
      return { validatorIndex: uint(o.validatorIndex, `commit.signatures[${i}].validatorIndex`), signature: hex(o.signature, `commit.signatures[${i}].signature`, 64) }
    })
  }
}

function questionToJson (q: StateQuestion): Json {
  if (q.kind === 'consent') return { kind: q.kind, patient: toHex(q.patient), grant: toHex(q.grant) }
  if (q.kind === 'record') return { kind: q.kind, patient: toHex(q.patient), record: toHex(q.record) }
  if (q.kind === 'patient') return { kind: q.kind, patient: toHex(q.patient) }
  return { kind: 'key' }
}

function questionFromJson (v: unknown): StateQuestion {
  const q = obj(v, 'question')
  if (q.kind === 'consent') return { kind: 'consent', patient: hex(q.patient, 'question.patient', 32), grant: hex(q.grant, 'question.grant', 32) }
  if (q.kind === 'record') return { kind: 'record', patient: hex(q.patient, 'question.patient', 32), record: hex(q.record, 'question.record', 32) }
  if (q.kind === 'patient') return { kind: 'patient', patient: hex(q.patient, 'question.patient', 32) }
  if (q.kind === 'key') return { kind: 'key' }
  return bad('question.kind must be consent, record, patient or key', q.kind)
}

/** The JSON a node serves and `medchain verify` reads: bytes as lower-case hex. */
export function proofToJson (d: ProofDocument): Json {
  const common = { chainId: d.chainId, height: d.height, header: headerToJson(d.header), commit: commitToJson(d.commit) }
  if (d.type === 'tx') {
    return {
      type: 'tx', ...common, index: d.index, txId: toHex(sha256(d.tx)), tx: toHex(d.tx), result: toHex(d.result),
      resultDecoded: renderResult(decodeResultLeaf(d.result)), txProof: d.txProof.map(toHex), resultProof: d.resultProof.map(toHex)
    }
  }
  return {
    type: 'state', ...common, question: questionToJson(d.question), key: d.key, value: d.value === null ? null : toHex(d.value),
    proof: { siblings: d.proof.siblings.map(toHex), leaf: d.proof.leaf === null ? null : { path: toHex(d.proof.leaf.path), valueHash: toHex(d.proof.leaf.valueHash) } }
  }
}

/** Parses the JSON form strictly (fields, lengths); extra informative fields (txId, resultDecoded) are ignored: the bytes are what is checked. */
export function proofFromJson (v: unknown): ProofDocument {
  const d = obj(v, 'document')
  const chainId = str(d.chainId, 'chainId')
  const height = uint(d.height, 'height')
  const header = headerFromJson(d.header)
  const commit = commitFromJson(d.commit)
  if (d.type === 'tx') {
    return {
      type: 'tx', chainId, height, header, commit, index: uint(d.index, 'index'), tx: hex(d.tx, 'tx'), result: hex(d.result, 'result'),
      txProof: list(d.txProof, 'txProof', 64).map((p, i) => hex(p, `txProof[${i}]`, 32)),
      resultProof: list(d.resultProof, 'resultProof', 64).map((p, i) => hex(p, `resultProof[${i}]`, 32))
    }
  }
  if (d.type === 'state') {
    const p = obj(d.proof, 'proof')
    const leaf = p.leaf === null ? null : obj(p.leaf, 'proof.leaf')
    return {
      type: 'state', chainId, height, header, commit, question: questionFromJson(d.question), key: str(d.key, 'key'),
      value: d.value === null ? null : hex(d.value, 'value'),
      proof: {
        siblings: list(p.siblings, 'proof.siblings', 256).map((s, i) => hex(s, `proof.siblings[${i}]`, 32)),
        leaf: leaf === null ? null : { path: hex(leaf.path, 'proof.leaf.path', 32), valueHash: hex(leaf.valueHash, 'proof.leaf.valueHash', 32) }
      }
    }
  }
  return bad('type must be tx or state', d.type)
}

function renderResult (r: ResultLeaf): Json {
  return { code: r.code, ...(r.log !== undefined ? { log: r.log } : {}), ...(r.decision !== undefined ? { decision: r.decision } : {}), audit: r.audit.map(([k, v]) => ({ key: k, entry: toHex(v) })) }
}

// ---------------------------------------------------------------- verification

export interface TrustRoot { chainId: string, validators: readonly Validator[] }

export interface Verified {
  /** What was proven, in words. */
  statement: string
  type: ProofDocument['type']
  height: number
  blockHash: string
  signers: number
  validators: number
  /** Proven facts, machine-readable. */
  facts: Json
}

/**
 * Checks a document against the genesis validator set: the header hashes to the block
 * the certificate signs, the certificate holds +2/3 of the power with valid precommits,
 * and the Merkle proofs lead to the header's roots. Throws ProofError naming the check
 * that failed; returns what was proven.
 */
export function verifyProof (d: ProofDocument, trust: TrustRoot, verifier: ConsensusVerifier = ed25519Verify): Verified {
  if (d.chainId !== trust.chainId || d.header.chainId !== trust.chainId) {
    throw new ProofError('PROOF_WRONG_CHAIN', `document is for chain ${d.chainId} (header ${d.header.chainId}), genesis is ${trust.chainId}`, d.chainId)
  }
  if (d.header.height !== d.height) throw new ProofError('PROOF_HEADER_MISMATCH', `header is for height ${d.header.height}, document says ${d.height}`, d.header.height)
  const hash = blockHash(d.header)
  if (!bytesEqual(d.commit.blockHash, hash)) throw new ProofError('PROOF_BAD_COMMIT', 'commit certificate is for another block', toHex(d.commit.blockHash))
  try { verifyCommit(d.commit, trust.validators, trust.chainId, verifier, { height: d.height, blockHash: hash }) } catch (err) {
    const e = err as { code?: string, message: string, value?: unknown }
    throw new ProofError('PROOF_BAD_COMMIT', `${e.code ?? 'COMMIT'}: ${e.message}`, e.value)
  }
  const signedBy = `signed by ${d.commit.signatures.length} of ${trust.validators.length} validators`
  const base = { height: d.height, blockHash: toHex(hash), signers: d.commit.signatures.length, validators: trust.validators.length }
  if (d.type === 'tx') {
    const n = d.header.txCount
    if (!verifyMerkleProof(d.tx, d.index, n, d.txProof, d.header.txRoot)) throw new ProofError('PROOF_BAD_TX_PROOF', `transaction is not at index ${d.index} under the header's tx root`, d.index)
    if (!verifyMerkleProof(d.result, d.index, n, d.resultProof, d.header.resultsRoot)) throw new ProofError('PROOF_BAD_RESULT_PROOF', `result is not at index ${d.index} under the header's results root`, d.index)
    let result: ResultLeaf
    try { result = decodeResultLeaf(d.result) } catch (err) { throw new ProofError('PROOF_MALFORMED', `result leaf does not decode: ${(err as Error).message}`) }
    let kind = 'transaction'
    try { kind = decodeTx(d.tx, trust.chainId, { skipSignature: true }).tx.kind } catch {}
    const id = toHex(sha256(d.tx))
    const parts = [`${kind} ${id} was committed at height ${d.height} (tx ${d.index} of ${n}) with result ${result.code}`]
    if (result.decision !== undefined) parts.push(`decision ${result.decision.permit ? 'permit' : 'deny'} (${result.decision.reason})`)
    if (result.audit.length > 0) parts.push(`${result.audit.length} audit entr${result.audit.length === 1 ? 'y' : 'ies'} (${result.audit.map(a => a[0]).join(', ')})`)
    return { ...base, type: 'tx', statement: `${parts.join('; ')}; ${signedBy}`, facts: { txId: id, kind, index: d.index, ...renderResult(result) } }
  }
  const key = keyOfQuestion(d.question, d.key)
  if (key !== d.key) throw new ProofError('PROOF_KEY_MISMATCH', `the proof is for key ${d.key}, the question is about ${key}`, d.key)
  let proven: Uint8Array | null
  try { proven = verifySmtProof(d.header.stateRoot, statePath(d.key), d.proof) } catch (err) {
    throw new ProofError('PROOF_BAD_STATE_PROOF', `${(err as Error).message} (state root of height ${d.height})`, d.key)
  }
  if (proven === null && d.value !== null) throw new ProofError('PROOF_BAD_STATE_PROOF', `the proof shows ${d.key} absent but a value is given`, d.key)
  if (proven !== null && (d.value === null || !bytesEqual(proven, stateValueHash(d.value)))) throw new ProofError('PROOF_BAD_STATE_PROOF', `the value given for ${d.key} is not the one the state root commits to`, d.key)
  const value = d.value === null ? undefined : decode(d.value, { maxBytes: 1024 * 1024, maxDepth: 16 })
  const { statement, facts } = describeState(d.question, d.key, value, d.header)
  return { ...base, type: 'state', statement: `${statement} (state at height ${d.height}); ${signedBy}`, facts }
}

const short = (b: Uint8Array): string => toHex(b).slice(0, 12) + '…'

function describeState (q: StateQuestion, key: string, value: unknown, header: BlockHeader): { statement: string, facts: Json } {
  if (q.kind === 'consent') {
    const what = `consent ${short(q.grant)} of patient ${short(q.patient)}`
    if (value === undefined) return { statement: `${what} does not exist`, facts: { key, exists: false } }
    const g = value as Grant
    const status = grantStatus(g, header.time)
    if (g.revoked !== undefined) return { statement: `${what} was revoked at height ${g.revoked.height}`, facts: { key, exists: true, status, revokedAt: g.revoked.height, grantedAt: g.granted.height } }
    return { statement: `${what} is ${status} at block time ${new Date(header.time).toISOString()} (granted at height ${g.granted.height}, valid until ${new Date(g.validUntil).toISOString()})`, facts: { key, exists: true, status, grantedAt: g.granted.height } }
  }
  if (q.kind === 'record') {
    const what = `record ${short(q.record)} of patient ${short(q.patient)}`
    if (value === undefined) return { statement: `${what} does not exist`, facts: { key, exists: false } }
    const r = value as RecordEntry
    if (r.erased !== undefined) return { statement: `${what} was erased at height ${r.erased.height}`, facts: { key, exists: true, erased: true, erasedAt: r.erased.height } }
    return { statement: `${what} is not erased (anchored at height ${r.anchored.height}, ${r.amendments.length} amendments)`, facts: { key, exists: true, erased: false } }
  }
  if (q.kind === 'patient') {
    const what = `patient ${short(q.patient)}`
    if (value === undefined) return { statement: `${what} is not registered`, facts: { key, exists: false } }
    const p = value as Patient
    return { statement: `${what}'s current key is ${toHex(p.key)}`, facts: { key, exists: true, currentKey: toHex(p.key) } }
  }
  if (value === undefined) return { statement: `state key ${key} is absent`, facts: { key, exists: false } }
  return { statement: `state key ${key} holds a value`, facts: { key, exists: true } }
}
