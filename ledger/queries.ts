import { decode, fromHex, toHex } from '../codec/index.js'
import { decide, grantStatus, type AccessQuery, type Decision } from './decision.js'
import { LedgerError } from './errors.js'
import {
  keys, type AccessRequest, type AuditEntry, type BreakGlassEvent, type Grant, type Member, type Patient, type Provider, type RecordEntry
} from './model.js'
import type { StateView } from './state.js'

/** Reads append-only records (the audit log) in key order from disk: supplied by storage. */
export type PrefixReader = (prefix: string) => AsyncIterable<[string, Uint8Array]>

export interface ConsentView { grant: Grant, status: ReturnType<typeof grantStatus> }

export function getMember (view: StateView, name: string): Member | undefined { return view.get<Member>(keys.member(name)) }
export function getProvider (view: StateView, key: Uint8Array): Provider | undefined { return view.get<Provider>(keys.provider(key)) }
export function getPatient (view: StateView, id: Uint8Array): Patient | undefined { return view.get<Patient>(keys.patient(id)) }

/** The patient whose current signing key is `key`. */
export function getPatientByKey (view: StateView, key: Uint8Array): Patient | undefined {
  const ref = view.get<{ id: Uint8Array }>(keys.patientKey(key))
  return ref === undefined ? undefined : getPatient(view, ref.id)
}

/** All grants a patient ever made (active and past), with their status at `time`, oldest first. */
export function listConsents (view: StateView, patient: Uint8Array, time: number): ConsentView[] {
  const out = view.keysInGroup(keys.consentGroup(patient)).map(k => view.get<Grant>(k) as Grant)
  out.sort((a, b) => a.granted.height - b.granted.height || (toHex(a.id) < toHex(b.id) ? -1 : 1))
  return out.map(grant => ({ grant, status: grantStatus(grant, time) }))
}

/** The access decision with its reason (docs/decision-table.md). */
export function checkAccess (view: StateView, query: AccessQuery): Decision {
  return decide(view, query)
}

export function getRecord (view: StateView, patient: Uint8Array, record: Uint8Array): RecordEntry | undefined {
  return view.get<RecordEntry>(keys.record(patient, record))
}

/** A patient's records with their amendment history, in anchoring order. */
export function listRecords (view: StateView, patient: Uint8Array): RecordEntry[] {
  const out = view.keysInGroup(keys.recordGroup(patient)).map(k => view.get<RecordEntry>(k) as RecordEntry)
  return out.sort((a, b) => a.anchored.height - b.anchored.height || (toHex(a.id) < toHex(b.id) ? -1 : 1))
}

/** Unanswered, unexpired access requests to a patient at `time`, oldest first. */
export function pendingRequests (view: StateView, patient: Uint8Array, time: number): AccessRequest[] {
  const out = view.keysInGroup(keys.requestGroup(patient)).map(k => view.get<AccessRequest>(k) as AccessRequest).filter(r => r.expires > time)
  return out.sort((a, b) => a.requested.height - b.requested.height || (toHex(a.id) < toHex(b.id) ? -1 : 1))
}

/** Every break-glass event on a patient, in chain order. */
export function breakGlassEvents (view: StateView, patient: Uint8Array): BreakGlassEvent[] {
  return view.keysInGroup(keys.breakGlassGroup(patient)).map(k => view.get<BreakGlassEvent>(k) as BreakGlassEvent)
}

export interface AuditTrailOptions {
  /** Most entries returned (default 10,000): every query is bounded. */
  limit?: number
}

/** A patient's audit trail in chain order, read from the append-only log. */
export async function auditTrail (read: PrefixReader, patient: Uint8Array, options: AuditTrailOptions = {}): Promise<Array<AuditEntry & { key: string }>> {
  const limit = options.limit ?? 10_000
  const out: Array<AuditEntry & { key: string }> = []
  for await (const [key, value] of read(keys.auditPrefix(patient))) {
    if (out.length >= limit) break
    let entry: AuditEntry
    try { entry = decode(value, { maxBytes: 64 * 1024, maxDepth: 8 }) as AuditEntry } catch (err) {
      throw new LedgerError('STATE_CORRUPT', `audit entry ${key} does not decode: ${(err as Error).message}`, key)
    }
    out.push({ ...entry, key })
  }
  return out
}

/** Patient id from hex (API convenience; throws CodecError on bad hex). */
export function patientIdFromHex (hex: string): Uint8Array { return fromHex(hex, 32) }
