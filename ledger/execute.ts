import { bytesEqual, compareBytes, encode, toHex } from '../codec/index.js'
import { sha256 } from '../crypto/index.js'
import { TxFailure, type ResultCode } from './errors.js'
import {
  EMERGENCY_ROLES, MAX_ACTIVE_GRANTS, MAX_AMENDMENTS, MAX_BREAK_GLASS_MS, MAX_GRANT_VALIDITY_MS, MAX_PENDING_REQUESTS, REQUEST_TTL_MS,
  type Category
} from './constants.js'
import { decide, grantStatus, type Decision, type DecisionReason } from './decision.js'
import type { TxBody, TxKind } from './kinds.js'
import {
  keys, type AccessRequest, type ActedAs, type AuditEntry, type BlockPoint, type BreakGlassEvent, type BreakGlassWindow, type ChainInfo, type Grant,
  type Member, type Patient, type Provider, type RecordEntry, type Recovery
} from './model.js'
import {
  MAX_REPRESENTATIONS, actingRepresentation, designator, grantCategoriesFit, grantWithinRequest, mayRevoke, representativeKeyProblem,
  standingRepresentations, type ActingRefusal, type Representation, type RepresentationAct
} from './representation.js'
import { encodeResultLeaf, resultLeaf, resultsRoot } from './results.js'
import { decodedWrites, Overlay, type Append, type LedgerState, type StateView, type Write } from './state.js'
import type { SmtUpdate } from '../crypto/index.js'
import { refusedAttempt, trailWriteRefusal } from './trail.js'
import type { DecodedTx } from './tx.js'

export interface BlockContext {
  height: number
  /** Block time in ms (from the block header): the only clock execution sees. */
  time: number
  proposer: Uint8Array
}

/** A JSON-friendly notification of something a transaction did (SSE stream, patient push). */
export interface LedgerEvent {
  type: string
  txIndex: number
  txId: string
  /** Patient id (hex) the event concerns, if any: who to notify. */
  patient?: string
  attributes: Record<string, string | number | boolean>
}

export interface TxResult {
  code: ResultCode
  log?: string
  events: LedgerEvent[]
}

export interface BlockExecution {
  height: number
  prevStateRoot: Uint8Array
  results: TxResult[]
  /** State puts (bytes) and deletes (null), sorted by key. */
  writes: Write[]
  /** Append-only records (audit trail), in order; persisted but not kept in memory. */
  appends: Append[]
  /** Root of the state tree after the block (the header's stateRoot). */
  stateRoot: Uint8Array
  /** The state tree's node changes (persist them with the block). */
  tree: SmtUpdate
  /** Encoded ResultLeaf per transaction, and their Merkle root (the header's resultsRoot). */
  resultLeaves: Uint8Array[]
  resultsRoot: Uint8Array
  events: LedgerEvent[]
}

/** Next nonce the sender must use (0 for a fresh key). */
export function expectedNonce (view: StateView, sender: Uint8Array): number {
  return view.get<number>(keys.nonce(sender)) ?? 0
}

interface Exec {
  ov: Overlay
  tx: DecodedTx
  at: BlockPoint
  txIndex: number
  audits: Array<[Uint8Array, AuditEntry]>
  events: LedgerEvent[]
  bgEvents: BreakGlassEvent[]
}

type Handler<K extends TxKind> = (x: Exec, body: TxBody<K>) => void

/**
 * Executes a block's transactions in order on a copy-on-write overlay; does not mutate
 * `state` (call state.apply(result) after the block is persisted). Deterministic.
 *
 * Nonces: a transaction whose nonce is the sender's next one consumes it whether it
 * succeeds or fails (so a failed transaction can never be replayed to succeed later);
 * a wrong nonce or a duplicate changes nothing. A failed transaction applies nothing else,
 * except that a refused access attempt is recorded in the patient's trail (W07).
 */
export interface ExecuteOptions {
  /**
   * Runs the state commitment (tree update over the block's writes); the node passes a
   * wrapper that times it (the ledger reads no clock). Default: call it.
   */
  commitment?: <T>(fn: () => T) => T
}

export function executeBlock (state: LedgerState, ctx: BlockContext, txs: DecodedTx[], opts: ExecuteOptions = {}): BlockExecution {
  const ov = new Overlay(state)
  const chain = state.get<ChainInfo>(keys.chain())
  const at: BlockPoint = { height: ctx.height, time: ctx.time }
  const results: TxResult[] = []
  const appends: Append[] = []
  const events: LedgerEvent[] = []
  const seen = new Set<string>()
  let auditSeq = 0
  let bgSeq = 0
  // Appends of transaction i are appends[firstAppend[i] .. firstAppend[i + 1]): its result leaf proves them.
  const firstAppend: number[] = []
  for (let i = 0; i < txs.length; i++) {
    firstAppend.push(appends.length)
    const tx = txs[i]
    if (seen.has(tx.idHex)) { results.push({ code: 'DUPLICATE_TX', log: 'transaction already in this block', events: [] }); continue }
    seen.add(tx.idHex)
    if (chain !== undefined && tx.tx.chainId !== chain.chainId) { results.push({ code: 'WRONG_CHAIN', log: tx.tx.chainId, events: [] }); continue }
    const expected = expectedNonce(ov, tx.tx.sender)
    if (tx.tx.nonce !== expected) { results.push({ code: 'BAD_NONCE', log: `expected nonce ${expected}, got ${tx.tx.nonce}`, events: [] }); continue }
    const x: Exec = { ov, tx, at, txIndex: i, audits: [], events: [], bgEvents: [] }
    ov.begin()
    let code: ResultCode = 'OK'
    let log: string | undefined
    try {
      (HANDLERS[tx.tx.kind] as Handler<TxKind>)(x, tx.tx.body as TxBody<TxKind>)
      ov.commit()
    } catch (err) {
      if (!(err instanceof TxFailure)) { ov.rollback(); throw err }
      ov.rollback()
      code = err.code
      log = err.message === err.code ? undefined : err.message
      x.audits = []; x.events = []; x.bgEvents = []
      // Read on the state before the transaction (rolled back): the same on every node.
      const refused = refusedAttempt(ov, tx, err.code, err instanceof DecisionRefusal ? err.reason : err.code)
      if (refused !== null) {
        audit(x, refused.patient, refused.entry)
        emit(x, 'access.refused', refused.patient, { kind: tx.tx.kind, code: err.code, reason: refused.entry.reason, purpose: refused.entry.purpose })
      }
    }
    ov.put(keys.nonce(tx.tx.sender), expected + 1)
    for (const [patient, entry] of x.audits) appends.push([keys.audit(patient, ctx.height, auditSeq++), encode(entry)])
    for (const ev of x.bgEvents) ov.put(keys.breakGlassEvent(ev.patient, ctx.height, bgSeq++), ev)
    results.push(log === undefined ? { code, events: x.events } : { code, log, events: x.events })
    events.push(...x.events)
  }
  const { writes, decoded } = ov.finish()
  firstAppend.push(appends.length)
  const resultLeaves = results.map((r, i) => encodeResultLeaf(resultLeaf(r, appends.slice(firstAppend[i], firstAppend[i + 1]))))
  const tree = opts.commitment === undefined ? state.stateTreeUpdate(writes) : opts.commitment(() => state.stateTreeUpdate(writes))
  const exec: BlockExecution = {
    height: ctx.height, prevStateRoot: state.stateRoot, results, writes, appends, stateRoot: tree.root, tree, resultLeaves, resultsRoot: resultsRoot(resultLeaves), events
  }
  decodedWrites.set(exec, decoded)
  return exec
}

// ---- helpers ----

function fail (code: ConstructorParameters<typeof TxFailure>[0], message?: string): never { throw new TxFailure(code, message) }

/** A refusal by the decision table: carries the table's reason into the refused entry of the trail. */
class DecisionRefusal extends TxFailure {
  readonly reason: DecisionReason
  constructor (code: ConstructorParameters<typeof TxFailure>[0], reason: DecisionReason) {
    super(code, reason)
    this.reason = reason
  }
}

function senderMember (x: Exec): Member {
  const name = x.ov.get<string>(keys.memberKey(x.tx.tx.sender))
  const member = name === undefined ? undefined : x.ov.get<Member>(keys.member(name))
  if (member === undefined) fail('NOT_MEMBER')
  return member
}

function activeProvider (x: Exec): Provider {
  const p = x.ov.get<Provider>(keys.provider(x.tx.tx.sender))
  if (p === undefined) fail('NOT_PROVIDER')
  if (p.status !== 'active') fail('PROVIDER_SUSPENDED')
  return p
}

/** The patient whose current key is the sender. */
function senderPatient (x: Exec): Patient {
  const ref = x.ov.get<{ id: Uint8Array }>(keys.patientKey(x.tx.tx.sender))
  const p = ref === undefined ? undefined : x.ov.get<Patient>(keys.patient(ref.id))
  if (p === undefined) fail('NOT_PATIENT')
  return p
}

function patientById (x: Exec, id: Uint8Array): Patient {
  const p = x.ov.get<Patient>(keys.patient(id))
  if (p === undefined) fail('PATIENT_UNKNOWN')
  return p
}

function keyInUse (view: StateView, key: Uint8Array): boolean {
  return view.get(keys.memberKey(key)) !== undefined || view.get(keys.provider(key)) !== undefined || view.get(keys.patientKey(key)) !== undefined
}

function audit (x: Exec, patient: Uint8Array, entry: Omit<AuditEntry, 'txId' | 'actor' | 'at'>): void {
  x.audits.push([patient, { ...entry, txId: x.tx.id, actor: x.tx.tx.sender, at: x.at }])
}

function emit (x: Exec, type: string, patient: Uint8Array | undefined, attributes: LedgerEvent['attributes'] = {}): void {
  const ev: LedgerEvent = { type, txIndex: x.txIndex, txId: x.tx.idHex, attributes }
  if (patient !== undefined) ev.patient = toHex(patient)
  x.events.push(ev)
}

function withoutUndefined<T extends object> (o: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as T
}

function rotate (x: Exec, patient: Patient, newKey: Uint8Array): void {
  if (keyInUse(x.ov, newKey)) fail('KEY_IN_USE')
  x.ov.delete(keys.patientKey(patient.key))
  x.ov.put(keys.patientKey(newKey), { id: patient.id })
  x.ov.put(keys.patient(patient.id), { ...patient, key: newKey })
  x.ov.delete(keys.recovery(patient.id))
  audit(x, patient.id, { type: 'patient.key_rotated' })
  emit(x, 'patient.key_rotated', patient.id, { newKey: toHex(newKey) })
}

/**
 * Who acts for the patient in a consent transaction: with no `patientId`, the sender is the
 * patient; else the patient's current key, or a representative whose representation is in
 * force at block time with one of `acts` in its scope and that `fits` (R06..R13). Throws
 * PATIENT_UNKNOWN, NOT_PATIENT, NOT_REPRESENTATIVE, REPRESENTATION_INACTIVE, SCOPE_EXCEEDED.
 */
function actingFor (
  x: Exec, patientId: Uint8Array | undefined, acts: readonly RepresentationAct[], fits?: (r: Representation) => ActingRefusal | null
): { patient: Patient, actedAs?: ActedAs } {
  if (patientId === undefined) return { patient: senderPatient(x) }
  const patient = patientById(x, patientId)
  if (bytesEqual(patient.key, x.tx.tx.sender)) return { patient }
  const found = actingRepresentation(x.ov, patient.id, x.tx.tx.sender, acts, x.at.time, fits)
  if ('refusal' in found) fail(found.refusal.code, found.refusal.reason)
  const r = found.representation
  return { patient, actedAs: { representative: x.tx.tx.sender, representation: r.id, basis: r.basis } }
}

/** A provider's write decision, or the patient themself (D04). Throws WRITE_DENIED. */
function requireWrite (x: Exec, patient: Uint8Array, category: Category | undefined, record: Uint8Array | undefined, purpose: TxBody<'record.anchor'>['purpose']): Decision {
  const d = decide(x.ov, withoutUndefined({ patient, requester: x.tx.tx.sender, category, record, action: 'write' as const, purpose, time: x.at.time }))
  if (!d.permit) {
    if (d.reason === 'RECORD_UNKNOWN') fail('RECORD_UNKNOWN')
    if (d.reason === 'RECORD_ERASED') fail('RECORD_ERASED')
    if (d.reason === 'PATIENT_UNKNOWN') fail('PATIENT_UNKNOWN')
    throw new DecisionRefusal('WRITE_DENIED', d.reason)
  }
  return d
}

// ---- handlers, one per kind ----

const HANDLERS: { [K in TxKind]: Handler<K> } = {
  'provider.register' (x, b) {
    const member = senderMember(x)
    if (x.ov.get(keys.provider(b.key)) !== undefined) fail('PROVIDER_EXISTS')
    if (keyInUse(x.ov, b.key)) fail('KEY_IN_USE')
    const p: Provider = { key: b.key, role: b.role, name: b.name, org: member.name, status: 'active', registered: x.at }
    x.ov.put(keys.provider(b.key), p)
    emit(x, 'provider.registered', undefined, { provider: toHex(b.key), role: b.role, org: member.name })
  },

  'provider.suspend' (x, b) {
    const member = senderMember(x)
    const p = x.ov.get<Provider>(keys.provider(b.key))
    if (p === undefined) fail('PROVIDER_UNKNOWN')
    if (p.org !== member.name) fail('NOT_AUTHORIZED', `provider belongs to ${p.org}`)
    if (p.status === 'suspended') fail('ALREADY_SUSPENDED')
    x.ov.put(keys.provider(b.key), { ...p, status: 'suspended', suspended: withoutUndefined({ ...x.at, reason: b.reason }) })
    emit(x, 'provider.suspended', undefined, { provider: toHex(b.key), org: member.name })
  },

  'provider.reinstate' (x, b) {
    const member = senderMember(x)
    const p = x.ov.get<Provider>(keys.provider(b.key))
    if (p === undefined) fail('PROVIDER_UNKNOWN')
    if (p.org !== member.name) fail('NOT_AUTHORIZED', `provider belongs to ${p.org}`)
    if (p.status !== 'suspended') fail('NOT_SUSPENDED')
    const { suspended: _, ...rest } = p
    x.ov.put(keys.provider(b.key), { ...rest, status: 'active' })
    emit(x, 'provider.reinstated', undefined, { provider: toHex(b.key), org: member.name })
  },

  'patient.register' (x, b) {
    const key = x.tx.tx.sender
    if (x.ov.get(keys.patient(key)) !== undefined || x.ov.get(keys.patientKey(key)) !== undefined) fail('PATIENT_EXISTS')
    if (keyInUse(x.ov, key)) fail('KEY_IN_USE')
    if (b.guardians?.some(g => bytesEqual(g, key)) === true) fail('BAD_GUARDIANS', 'a patient can not guard themself')
    const p: Patient = withoutUndefined({ id: key, key, guardians: b.guardians, threshold: b.threshold, registered: x.at })
    x.ov.put(keys.patient(key), p)
    x.ov.put(keys.patientKey(key), { id: key })
    audit(x, key, { type: 'patient.registered' })
    emit(x, 'patient.registered', key)
  },

  'patient.rotate_key' (x, b) {
    rotate(x, senderPatient(x), b.newKey)
  },

  'patient.recover' (x, b) {
    const patient = patientById(x, b.patient)
    const guardian = x.tx.tx.sender
    if (patient.guardians?.some(g => bytesEqual(g, guardian)) !== true || patient.threshold === undefined) fail('NOT_GUARDIAN')
    if (keyInUse(x.ov, b.newKey)) fail('KEY_IN_USE')
    const recovery = x.ov.get<Recovery>(keys.recovery(b.patient)) ?? { candidates: [] }
    // One approval per guardian: approving a new key withdraws its approval of any other.
    const candidates = recovery.candidates
      .map(c => ({ newKey: c.newKey, approvals: c.approvals.filter(a => !bytesEqual(a, guardian)) }))
      .filter(c => c.approvals.length > 0 && !bytesEqual(c.newKey, b.newKey))
    const current = recovery.candidates.find(c => bytesEqual(c.newKey, b.newKey))?.approvals.filter(a => !bytesEqual(a, guardian)) ?? []
    const approvals = [...current, guardian].sort(compareBytes)
    audit(x, patient.id, { type: 'patient.recovery_approved' })
    emit(x, 'patient.recovery_approved', patient.id, { guardian: toHex(guardian), approvals: approvals.length, threshold: patient.threshold })
    if (approvals.length >= patient.threshold) {
      rotate(x, patient, b.newKey)
      return
    }
    candidates.push({ newKey: b.newKey, approvals })
    candidates.sort((p, q) => compareBytes(p.newKey, q.newKey))
    x.ov.put(keys.recovery(b.patient), { candidates })
  },

  'consent.grant' (x, b) {
    // A plain grant needs `grant` in a representative's scope; answering a request, `answer`
    // (within what was requested) or `grant` (R11..R13).
    const { patient, actedAs } = actingFor(x, b.patient, b.request === undefined ? ['grant'] : ['answer', 'grant'], r => {
      if (!grantCategoriesFit(r, b.categories)) return { code: 'SCOPE_EXCEEDED', reason: 'CATEGORY_NOT_IN_SCOPE' }
      if (b.request === undefined || r.scope.includes('grant')) return null
      const req = x.ov.get<AccessRequest>(keys.request(r.patient, b.request))
      return req === undefined || grantWithinRequest(req, b) ? null : { code: 'SCOPE_EXCEEDED', reason: 'BEYOND_REQUEST' }
    })
    if (b.validUntil <= b.validFrom || b.validUntil <= x.at.time || b.validUntil - b.validFrom > MAX_GRANT_VALIDITY_MS) {
      fail('BAD_WINDOW', 'need validFrom < validUntil, validUntil after block time, at most 10 years')
    }
    const g = b.grantee
    if (g.type === 'provider' && x.ov.get(keys.provider(g.key)) === undefined) fail('GRANTEE_UNKNOWN', 'no such provider')
    if (g.type === 'org' && x.ov.get(keys.member(g.member)) === undefined) fail('GRANTEE_UNKNOWN', 'no such member')
    let active = 0
    for (const k of x.ov.keysInGroup(keys.consentGroup(patient.id))) {
      if (grantStatus(x.ov.get<Grant>(k) as Grant, x.at.time) !== 'expired' && (x.ov.get<Grant>(k) as Grant).revoked === undefined) active++
    }
    if (active >= MAX_ACTIVE_GRANTS) fail('TOO_MANY_GRANTS')
    if (b.request !== undefined) {
      if (x.ov.get(keys.request(patient.id, b.request)) === undefined) fail('REQUEST_UNKNOWN')
      x.ov.delete(keys.request(patient.id, b.request))
    }
    const grant: Grant = withoutUndefined({
      id: x.tx.id, patient: patient.id, grantee: g, categories: b.categories, exclude: b.exclude, actions: b.actions,
      purposes: b.purposes, validFrom: b.validFrom, validUntil: b.validUntil, granted: x.at, grantedBy: actedAs
    })
    x.ov.put(keys.consent(patient.id, x.tx.id), grant)
    audit(x, patient.id, withoutUndefined({ type: 'consent.granted', grantId: x.tx.id, actedAs }))
    emit(x, 'consent.granted', patient.id, actedAttributes({ grantId: x.tx.idHex }, actedAs))
  },

  'consent.revoke' (x, b) {
    const { patient, actedAs } = actingFor(x, b.patient, ['revoke'])
    const grant = x.ov.get<Grant>(keys.consent(patient.id, b.grantId))
    if (grant === undefined) fail('GRANT_UNKNOWN')
    if (grant.revoked !== undefined) fail('GRANT_ALREADY_REVOKED')
    x.ov.put(keys.consent(patient.id, b.grantId), withoutUndefined({ ...grant, revoked: x.at, revokedBy: actedAs }))
    audit(x, patient.id, withoutUndefined({ type: 'consent.revoked', grantId: b.grantId, actedAs }))
    emit(x, 'consent.revoked', patient.id, actedAttributes({ grantId: toHex(b.grantId) }, actedAs))
  },

  'access.request' (x, b) {
    const provider = activeProvider(x)
    patientById(x, b.patient)
    let pending = 0
    for (const k of x.ov.keysInGroup(keys.requestGroup(b.patient))) {
      if ((x.ov.get<AccessRequest>(k) as AccessRequest).expires > x.at.time) pending++
    }
    if (pending >= MAX_PENDING_REQUESTS) fail('TOO_MANY_REQUESTS')
    const req: AccessRequest = withoutUndefined({
      id: x.tx.id, patient: b.patient, provider: provider.key, categories: b.categories, actions: b.actions, purposes: b.purposes,
      note: b.note, requested: x.at, expires: x.at.time + REQUEST_TTL_MS
    })
    x.ov.put(keys.request(b.patient, x.tx.id), req)
    audit(x, b.patient, { type: 'access.requested' })
    emit(x, 'access.requested', b.patient, { requestId: x.tx.idHex, provider: toHex(provider.key) })
  },

  'access.log' (x, b) {
    // Only an active provider, or the patient about themself, writes here (W01..W05).
    const refusal = trailWriteRefusal(x.ov, x.tx.tx.sender, b.patient)
    if (refusal !== null) fail(refusal)
    const d = decide(x.ov, withoutUndefined({ patient: b.patient, requester: x.tx.tx.sender, category: b.category, record: b.record, action: b.action, purpose: b.purpose, time: x.at.time }))
    const record = b.record === undefined ? undefined : x.ov.get<RecordEntry>(keys.record(b.patient, b.record))
    audit(x, b.patient, withoutUndefined({
      type: 'access', permit: d.permit, reason: d.reason, breakGlass: d.breakGlass, grantId: d.grantId, record: b.record,
      category: b.category ?? record?.category, action: b.action, purpose: b.purpose
    }))
    const attributes: LedgerEvent['attributes'] = { permit: d.permit, reason: d.reason, purpose: b.purpose, action: b.action }
    if (d.breakGlass === true) attributes.breakGlass = true
    emit(x, 'access.logged', b.patient, attributes)
  },

  'access.break_glass' (x, b) {
    const provider = activeProvider(x)
    if (!EMERGENCY_ROLES.has(provider.role)) fail('NOT_EMERGENCY_ROLE', provider.role)
    if (b.purpose !== 'ETREAT') fail('BREAK_GLASS_PURPOSE', b.purpose)
    if (b.durationMs === 0 || b.durationMs > MAX_BREAK_GLASS_MS) fail('BAD_WINDOW', `duration must be in 1..${MAX_BREAK_GLASS_MS} ms`)
    patientById(x, b.patient)
    const window: BreakGlassWindow = { provider: provider.key, from: x.at.time, until: x.at.time + b.durationMs, txId: x.tx.id }
    x.ov.put(keys.breakGlassWindow(b.patient, provider.key), window)
    x.bgEvents.push({ txId: x.tx.id, patient: b.patient, provider: provider.key, org: provider.org, role: provider.role, reason: b.reason, from: window.from, until: window.until, at: x.at })
    audit(x, b.patient, { type: 'access.break_glass', permit: true, reason: 'BREAK_GLASS', breakGlass: true, purpose: 'ETREAT' })
    emit(x, 'access.break_glass', b.patient, { provider: toHex(provider.key), until: window.until, breakGlass: true })
  },

  'record.anchor' (x, b) {
    patientById(x, b.patient)
    requireWrite(x, b.patient, b.category, undefined, b.purpose)
    const rec: RecordEntry = { id: x.tx.id, patient: b.patient, category: b.category, hash: b.hash, locator: b.locator, author: x.tx.tx.sender, anchored: x.at, amendments: [] }
    x.ov.put(keys.record(b.patient, x.tx.id), rec)
    audit(x, b.patient, { type: 'record.anchored', record: x.tx.id, category: b.category, action: 'write', purpose: b.purpose })
    emit(x, 'record.anchored', b.patient, { record: x.tx.idHex, category: b.category })
  },

  'record.amend' (x, b) {
    patientById(x, b.patient)
    requireWrite(x, b.patient, undefined, b.record, b.purpose)
    const rec = x.ov.get<RecordEntry>(keys.record(b.patient, b.record)) as RecordEntry
    if (rec.amendments.length >= MAX_AMENDMENTS) fail('TOO_MANY_AMENDMENTS')
    // The category is the record's: an amendment can not move data to a wider grant.
    const amendments = [...rec.amendments, { id: x.tx.id, hash: b.hash, locator: b.locator, author: x.tx.tx.sender, at: x.at }]
    x.ov.put(keys.record(b.patient, b.record), { ...rec, amendments })
    audit(x, b.patient, { type: 'record.amended', record: b.record, category: rec.category, action: 'write', purpose: b.purpose })
    emit(x, 'record.amended', b.patient, { record: toHex(b.record), amendment: x.tx.idHex })
  },

  'record.erase' (x, b) {
    patientById(x, b.patient)
    requireWrite(x, b.patient, undefined, b.record, b.purpose)
    const rec = x.ov.get<RecordEntry>(keys.record(b.patient, b.record)) as RecordEntry
    x.ov.put(keys.record(b.patient, b.record), { ...rec, erased: { ...x.at, by: x.tx.tx.sender } })
    audit(x, b.patient, { type: 'record.erased', record: b.record, category: rec.category, action: 'write', purpose: b.purpose })
    emit(x, 'record.erased', b.patient, { record: toHex(b.record) })
  },

  // ---- acting for a patient (ledger/representation.ts, rows R01..R16) ----

  'representation.designate' (x, b) {
    const patient = patientById(x, b.patient)
    const designatedBy = designator(x.ov, patient, x.tx.tx.sender)
    if (designatedBy === null) fail('NOT_AUTHORIZED', 'only the patient or a registrar (an active admin provider) designates a representative')
    const problem = representativeKeyProblem(x.ov, patient, b.representative)
    if (problem !== null) fail('BAD_REPRESENTATIVE', problem)
    if ((b.validUntil !== undefined && b.validUntil <= x.at.time) || (b.majority !== undefined && b.majority <= x.at.time)) {
      fail('BAD_WINDOW', 'validUntil and majority must be after block time')
    }
    if (standingRepresentations(x.ov, patient.id, x.at.time) >= MAX_REPRESENTATIONS) fail('TOO_MANY_REPRESENTATIONS')
    const r: Representation = withoutUndefined({
      id: x.tx.id, patient: patient.id, representative: b.representative, scope: b.scope, categories: b.categories, basis: b.basis,
      document: b.document, validFrom: b.validFrom, validUntil: b.validUntil, majority: b.majority, designatedBy, designated: x.at
    })
    x.ov.put(keys.representation(patient.id, x.tx.id), r)
    audit(x, patient.id, { type: 'representation.designated', representation: x.tx.id, basis: b.basis })
    emit(x, 'representation.designated', patient.id, { representation: x.tx.idHex, representative: toHex(b.representative), basis: b.basis, scope: b.scope.join(' ') })
  },

  'representation.revoke' (x, b) {
    const patient = patientById(x, b.patient)
    const r = x.ov.get<Representation>(keys.representation(patient.id, b.representation))
    if (r === undefined) fail('REPRESENTATION_UNKNOWN')
    if (!mayRevoke(x.ov, patient, r, x.tx.tx.sender)) fail('NOT_AUTHORIZED', 'only the patient or the designating registrar\'s member revokes a representation')
    if (r.revoked !== undefined) fail('REPRESENTATION_ALREADY_REVOKED')
    x.ov.put(keys.representation(patient.id, b.representation), { ...r, revoked: { ...x.at, by: x.tx.tx.sender } })
    audit(x, patient.id, { type: 'representation.revoked', representation: b.representation, basis: r.basis })
    emit(x, 'representation.revoked', patient.id, { representation: toHex(b.representation), representative: toHex(r.representative) })
  },

  'representation.read_trail' (x, b) {
    // The read is in the trail before the API serves it, as a provider's access.log is.
    const { patient, actedAs } = actingFor(x, b.patient, ['trail'])
    if (actedAs === undefined) fail('NOT_REPRESENTATIVE', 'the patient reads its own trail without a transaction')
    audit(x, patient.id, { type: 'trail.read', actedAs })
    emit(x, 'trail.read', patient.id, actedAttributes({}, actedAs))
  }
}

function actedAttributes (attributes: LedgerEvent['attributes'], actedAs: ActedAs | undefined): LedgerEvent['attributes'] {
  if (actedAs === undefined) return attributes
  return { ...attributes, representative: toHex(actedAs.representative), representation: toHex(actedAs.representation), basis: actedAs.basis }
}
