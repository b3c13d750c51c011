import { bytesEqual } from '../codec/index.js'
import { SENSITIVE_CATEGORIES, WILDCARD, type Action, type Category, type Purpose } from './constants.js'
import { keys, type BreakGlassWindow, type Grant, type Patient, type Provider, type RecordEntry } from './model.js'
import type { StateView } from './state.js'

export type DecisionReason =
  | 'PATIENT_UNKNOWN'
  | 'RECORD_UNKNOWN'
  | 'RECORD_ERASED'
  | 'PATIENT_SELF'
  | 'REQUESTER_UNKNOWN'
  | 'PROVIDER_SUSPENDED'
  | 'RESEARCH_PURPOSE_ONLY'
  | 'BREAK_GLASS'
  | 'CONSENT_GRANTED'
  | 'CONSENT_REVOKED'
  | 'CONSENT_EXPIRED'
  | 'CONSENT_NOT_YET_VALID'
  | 'SENSITIVE_NOT_NAMED'
  | 'CATEGORY_EXCLUDED'
  | 'CATEGORY_NOT_GRANTED'
  | 'PURPOSE_NOT_GRANTED'
  | 'ACTION_NOT_GRANTED'
  | 'NO_CONSENT'

export interface Decision {
  permit: boolean
  reason: DecisionReason
  grantId?: Uint8Array
  breakGlass?: boolean
}

export interface AccessQuery {
  /** Patient id. */
  patient: Uint8Array
  /** Key of who accesses: a provider, or the patient's current key. */
  requester: Uint8Array
  /** The category, or (with `record`) taken from the record. */
  category?: Category
  record?: Uint8Array
  action: Action
  purpose: Purpose
  /** Evaluation time in ms: block time during execution. */
  time: number
}

// How close a grant that names the requester came to permitting: the deny reason
// reported is the closest one, so a patient sees "revoked" rather than "no consent".
const MISS_RANK: Partial<Record<DecisionReason, number>> = {
  CONSENT_REVOKED: 6,
  CONSENT_EXPIRED: 5,
  CONSENT_NOT_YET_VALID: 5,
  SENSITIVE_NOT_NAMED: 4,
  CATEGORY_EXCLUDED: 4,
  CATEGORY_NOT_GRANTED: 3,
  PURPOSE_NOT_GRANTED: 2,
  ACTION_NOT_GRANTED: 1
}

export function granteeMatches (grant: Grant, provider: Provider): boolean {
  const g = grant.grantee
  switch (g.type) {
    case 'provider': return bytesEqual(g.key, provider.key)
    case 'org': return g.member === provider.org
    case 'role': return g.role === provider.role
  }
}

/** Whether a grant's category list covers a category: named, or by `*` unless sensitive; never if excluded. */
function categoryMiss (grant: Grant, category: Category): DecisionReason | null {
  if (grant.exclude?.includes(category) === true) return 'CATEGORY_EXCLUDED'
  if ((grant.categories as string[]).includes(category)) return null
  if ((grant.categories as string[]).includes(WILDCARD)) return SENSITIVE_CATEGORIES.has(category) ? 'SENSITIVE_NOT_NAMED' : null
  return 'CATEGORY_NOT_GRANTED'
}

/** Why a grant naming the provider does not permit at `time`, or null if it permits. */
export function grantMiss (grant: Grant, category: Category, action: Action, purpose: Purpose, time: number): DecisionReason | null {
  if (!grant.actions.includes(action)) return 'ACTION_NOT_GRANTED'
  if (!grant.purposes.includes(purpose)) return 'PURPOSE_NOT_GRANTED'
  const miss = categoryMiss(grant, category)
  if (miss !== null) return miss
  if (grant.revoked !== undefined && grant.revoked.time <= time) return 'CONSENT_REVOKED'
  if (time < grant.validFrom) return 'CONSENT_NOT_YET_VALID'
  if (time >= grant.validUntil) return 'CONSENT_EXPIRED'
  return null
}

/** Status of a grant at a time, for listings. */
export function grantStatus (grant: Grant, time: number): 'active' | 'revoked' | 'expired' | 'not_yet_valid' {
  if (grant.revoked !== undefined && grant.revoked.time <= time) return 'revoked'
  if (time < grant.validFrom) return 'not_yet_valid'
  if (time >= grant.validUntil) return 'expired'
  return 'active'
}

/**
 * The access decision, rows D01..D20 of docs/decision-table.md, evaluated top to
 * bottom; the first row that applies decides. Pure: reads state, uses `query.time` only.
 */
export function decide (view: StateView, query: AccessQuery): Decision {
  const patient = view.get<Patient>(keys.patient(query.patient))
  if (patient === undefined) return deny('PATIENT_UNKNOWN') // D01
  let category = query.category
  if (query.record !== undefined) {
    const record = view.get<RecordEntry>(keys.record(query.patient, query.record))
    if (record === undefined) return deny('RECORD_UNKNOWN') // D02
    if (record.erased !== undefined) return deny('RECORD_ERASED') // D03
    category = record.category
  }
  if (category === undefined) return deny('RECORD_UNKNOWN')
  if (bytesEqual(query.requester, patient.key)) return { permit: true, reason: 'PATIENT_SELF' } // D04
  const provider = view.get<Provider>(keys.provider(query.requester))
  if (provider === undefined) return deny('REQUESTER_UNKNOWN') // D05
  if (provider.status !== 'active') return deny('PROVIDER_SUSPENDED') // D06
  if (provider.role === 'researcher' && (query.purpose !== 'HRESCH' || query.action !== 'read')) return deny('RESEARCH_PURPOSE_ONLY') // D07
  if (query.purpose === 'ETREAT' && query.action === 'read') { // D08
    const w = view.get<BreakGlassWindow>(keys.breakGlassWindow(query.patient, query.requester))
    if (w !== undefined && w.from <= query.time && query.time < w.until) return { permit: true, reason: 'BREAK_GLASS', breakGlass: true }
  }
  let best: { reason: DecisionReason, rank: number } = { reason: 'NO_CONSENT', rank: 0 } // D20 if nothing closer
  for (const key of view.keysInGroup(keys.consentGroup(query.patient))) {
    const grant = view.get<Grant>(key) as Grant
    if (!granteeMatches(grant, provider)) continue
    const miss = grantMiss(grant, category, query.action, query.purpose, query.time)
    if (miss === null) return { permit: true, reason: 'CONSENT_GRANTED', grantId: grant.id } // D09..D11
    const rank = MISS_RANK[miss] ?? 0
    if (rank > best.rank) best = { reason: miss, rank }
  }
  return deny(best.reason) // D12..D20
}

function deny (reason: DecisionReason): Decision { return { permit: false, reason } }
