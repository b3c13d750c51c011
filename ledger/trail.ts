import { bytesEqual } from '../codec/index.js'
import type { Purpose } from './constants.js'
import type { ResultCode } from './errors.js'
import type { TxBody, TxKind } from './kinds.js'
import { keys, type AuditEntry, type Patient, type Provider, type RecordEntry } from './model.js'
import type { StateView } from './state.js'
import type { DecodedTx } from './tx.js'

/**
 * Who may write into a patient's audit trail by naming the patient (rows W01..W05 of
 * docs/decision-table.md): the patient's current key about themself, or a registered,
 * active provider of any role (researchers and admins included: a member organisation
 * registered them and answers for them). Everyone else is refused here, before anything
 * reaches the trail or notifies the patient: keys cost nothing to register, so "registered
 * patient" must never mean "may write into other patients' trails". A suspended provider
 * writes nothing: suspension is how a member cuts off a lost or misused key.
 * Returns the refusal code, or null when the sender may write. Pure.
 */
export function trailWriteRefusal (view: StateView, sender: Uint8Array, patient: Uint8Array): 'PATIENT_UNKNOWN' | 'NOT_PROVIDER' | 'PROVIDER_SUSPENDED' | null {
  const provider = view.get<Provider>(keys.provider(sender))
  if (provider !== undefined) {
    if (provider.status !== 'active') return 'PROVIDER_SUSPENDED' // W04
    return view.get(keys.patient(patient)) === undefined ? 'PATIENT_UNKNOWN' : null // W01, W05
  }
  const p = view.get<Patient>(keys.patient(patient))
  if (p !== undefined && bytesEqual(p.key, sender)) return null // W02
  return 'NOT_PROVIDER' // W03
}

/** Kinds that are an attempt to access a patient's data: their refusals are recorded (W07). */
const ACCESS_KINDS: ReadonlySet<TxKind> = new Set<TxKind>(['access.break_glass', 'access.log', 'record.amend', 'record.anchor', 'record.erase'])

export type TrailEntry = Omit<AuditEntry, 'txId' | 'actor' | 'at'>
/** A refused attempt's entry: why and the purpose claimed are always there. */
export type RefusedEntry = TrailEntry & { reason: string, purpose: Purpose }

/**
 * The trail entry for a refused access attempt (W07), or null when the attempt is not
 * recorded: not an access kind, or its sender may not write that patient's trail.
 * `view` is the state before the transaction; `reason` is the decision table's reason
 * when the table refused it, else the result code. Pure.
 */
export function refusedAttempt (view: StateView, tx: DecodedTx, code: Exclude<ResultCode, 'OK'>, reason: string): { patient: Uint8Array, entry: RefusedEntry } | null {
  const kind = tx.tx.kind
  if (!ACCESS_KINDS.has(kind)) return null
  const body = tx.tx.body as TxBody<'access.break_glass' | 'access.log' | 'record.amend' | 'record.anchor' | 'record.erase'>
  if (trailWriteRefusal(view, tx.tx.sender, body.patient) !== null) return null
  const entry: RefusedEntry = { type: 'access.refused', refused: true, permit: false, kind, code, reason, purpose: body.purpose }
  switch (kind) {
    case 'access.break_glass':
      entry.action = 'read' // a break-glass window opens emergency reads (D08)
      break
    case 'access.log': {
      const b = body as TxBody<'access.log'>
      entry.action = b.action
      if (b.category !== undefined) entry.category = b.category
      if (b.record !== undefined) entry.record = b.record
      break
    }
    case 'record.anchor':
      entry.action = 'write'
      entry.category = (body as TxBody<'record.anchor'>).category
      break
    default: { // record.amend, record.erase
      const b = body as TxBody<'record.amend' | 'record.erase'>
      entry.action = 'write'
      entry.record = b.record
      const rec = view.get<RecordEntry>(keys.record(b.patient, b.record))
      if (rec !== undefined) entry.category = rec.category
    }
  }
  return { patient: body.patient, entry }
}
