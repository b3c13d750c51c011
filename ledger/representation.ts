import { s, bytesEqual, toHex, type Infer, type Schema } from '../codec/index.js'
import { GRANT_CATEGORIES, SENSITIVE_CATEGORIES, WILDCARD, type GrantCategory } from './constants.js'
import { keys, type AccessRequest, type ActedAs, type BlockPoint, type Patient, type Provider } from './model.js'
import type { StateView } from './state.js'

/**
 * Acting for a patient (issue 19): a representative key designated for a patient, with a
 * scope, a legal basis and the hash of the legal document, acts on the patient's behalf.
 * Pure rules over a StateView; execute.ts applies them. Rows R01..R16 of
 * docs/decision-table.md ("Acting for a patient").
 */

/**
 * Legal basis of a representation (FHIR v3-RoleCode of the RelatedPerson: docs/fhir-representation.md):
 * a parent of a minor, a court-appointed guardian, an agent under a healthcare power of attorney.
 */
export const REPRESENTATION_BASES = ['healthcare_poa', 'legal_guardian', 'parent_of_minor'] as const
export type RepresentationBasis = typeof REPRESENTATION_BASES[number]

/** What a representative may do: grant consent, revoke consent, answer access requests, read the trail. */
export const REPRESENTATION_ACTS = ['answer', 'grant', 'revoke', 'trail'] as const
export type RepresentationAct = typeof REPRESENTATION_ACTS[number]

/** Representations in force or pending per patient: every acting transaction scans them. */
export const MAX_REPRESENTATIONS = 8

/** The registrar role: an active `admin` provider, registered (and answered for) by a member hospital. */
export const REGISTRAR_ROLE = 'admin'

export interface Representation {
  /** Id of the designating transaction. */
  id: Uint8Array
  patient: Uint8Array
  representative: Uint8Array
  scope: RepresentationAct[]
  /** Grant categories the representative may grant; absent: any the patient could. */
  categories?: GrantCategory[]
  basis: RepresentationBasis
  /** sha256 of the legal document (birth certificate, court order, power of attorney). */
  document: Uint8Array
  validFrom?: number
  validUntil?: number
  /** A minor's age of majority (ms): the representation ends then, with no transaction. */
  majority?: number
  /** Who designated it: the patient (`by` = the patient's key then) or a registrar of `org`. */
  designatedBy: { type: 'patient', key: Uint8Array } | { type: 'registrar', key: Uint8Array, org: string }
  designated: BlockPoint
  revoked?: BlockPoint & { by: Uint8Array }
}

export type RepresentationStatus = 'active' | 'not_yet_valid' | 'expired' | 'majority' | 'revoked'

/** Body schemas of the representation kinds, given the key schema every body key passes (TX_BAD_KEY). */
export function representationSchemas (key: Schema<Uint8Array>) {
  const id = s.bytes(32)
  return {
    'representation.designate': s.struct({
      patient: id,
      representative: key,
      scope: s.sortedSet(s.oneOf(REPRESENTATION_ACTS), REPRESENTATION_ACTS.length, 1),
      categories: s.optional(s.sortedSet(s.oneOf(GRANT_CATEGORIES), GRANT_CATEGORIES.length, 1)),
      basis: s.oneOf(REPRESENTATION_BASES),
      document: s.bytes(32),
      validFrom: s.optional(s.uint()),
      validUntil: s.optional(s.uint()),
      majority: s.optional(s.uint())
    }),
    'representation.revoke': s.struct({ patient: id, representation: id }),
    'representation.read_trail': s.struct({ patient: id })
  } as const
}
export type DesignateBody = Infer<ReturnType<typeof representationSchemas>['representation.designate']>

/** Stateless rules of a designation body, checked at decode. Returns a message or null. */
export function designationProblem (b: DesignateBody): string | null {
  if (b.validFrom !== undefined && b.validUntil !== undefined && b.validUntil <= b.validFrom) return 'validFrom must be before validUntil'
  if (b.basis === 'parent_of_minor' && b.majority === undefined) return 'a parent of a minor needs the majority date'
  return null
}

/** Status at `time` (block time in execution): expiry and majority need no transaction. */
export function representationStatus (r: Representation, time: number): RepresentationStatus {
  if (r.revoked !== undefined && r.revoked.time <= time) return 'revoked'
  if (r.majority !== undefined && time >= r.majority) return 'majority'
  if (r.validUntil !== undefined && time >= r.validUntil) return 'expired'
  if (r.validFrom !== undefined && time < r.validFrom) return 'not_yet_valid'
  return 'active'
}

/** Every representation of a patient, oldest first (by height, then id). */
export function listRepresentations (view: StateView, patient: Uint8Array): Representation[] {
  const out = view.keysInGroup(keys.representationGroup(patient)).map(k => view.get<Representation>(k) as Representation)
  return out.sort((a, b) => a.designated.height - b.designated.height || (toHex(a.id) < toHex(b.id) ? -1 : 1))
}

/** Representations not revoked and not ended at `time` (active or not yet valid): what the limit counts. */
export function standingRepresentations (view: StateView, patient: Uint8Array, time: number): number {
  let n = 0
  for (const r of listRepresentations(view, patient)) {
    const st = representationStatus(r, time)
    if (st === 'active' || st === 'not_yet_valid') n++
  }
  return n
}

/**
 * Who may designate for a patient (R01..R03): the patient's current key, or a registrar (an
 * active `admin` provider: a member hospital registered it and answers for it, and it attests
 * the legal document by its hash). A representative is neither: it can never designate.
 */
export function designator (view: StateView, patient: Patient, sender: Uint8Array): Representation['designatedBy'] | null {
  if (bytesEqual(sender, patient.key)) return { type: 'patient', key: sender }
  const p = view.get<Provider>(keys.provider(sender))
  if (p !== undefined && p.status === 'active' && p.role === REGISTRAR_ROLE) return { type: 'registrar', key: sender, org: p.org }
  return null
}

/**
 * Who may revoke a representation (R04): the patient's current key; for one a registrar
 * designated, that registrar or another active registrar of the same member (staff change,
 * the member answers for its registrars). Never the representative.
 */
export function mayRevoke (view: StateView, patient: Patient, r: Representation, sender: Uint8Array): boolean {
  if (bytesEqual(sender, patient.key)) return true
  if (r.designatedBy.type !== 'registrar') return false
  const who = designator(view, patient, sender)
  return who?.type === 'registrar' && who.org === r.designatedBy.org
}

/**
 * Why a key can not be a representative of this patient, or null (R05): the patient's own key
 * (it acts for itself), a member or provider key (an organisation's or a professional's key
 * acting privately would mix roles in the trail and let a provider grant itself consent).
 * Another patient's key is fine: a parent is often a patient too.
 */
export function representativeKeyProblem (view: StateView, patient: Patient, key: Uint8Array): string | null {
  if (bytesEqual(key, patient.key) || bytesEqual(key, patient.id)) return 'the patient acts for itself'
  if (view.get(keys.memberKey(key)) !== undefined) return 'a member key can not represent a patient'
  if (view.get(keys.provider(key)) !== undefined) return 'a provider key can not represent a patient'
  return null
}

export type ActingRefusal =
  | { code: 'NOT_REPRESENTATIVE', reason: 'NOT_REPRESENTATIVE' }
  | { code: 'REPRESENTATION_INACTIVE', reason: 'REPRESENTATION_REVOKED' | 'REPRESENTATION_MAJORITY' | 'REPRESENTATION_EXPIRED' | 'REPRESENTATION_NOT_YET_VALID' }
  | { code: 'SCOPE_EXCEEDED', reason: 'ACT_NOT_IN_SCOPE' | 'CATEGORY_NOT_IN_SCOPE' | 'BEYOND_REQUEST' }

// The closest reason a representation of the sender missed by, reported when none permits.
const INACTIVE_RANK: Record<Exclude<RepresentationStatus, 'active'>, ActingRefusal & { code: 'REPRESENTATION_INACTIVE' }> = {
  revoked: { code: 'REPRESENTATION_INACTIVE', reason: 'REPRESENTATION_REVOKED' },
  majority: { code: 'REPRESENTATION_INACTIVE', reason: 'REPRESENTATION_MAJORITY' },
  expired: { code: 'REPRESENTATION_INACTIVE', reason: 'REPRESENTATION_EXPIRED' },
  not_yet_valid: { code: 'REPRESENTATION_INACTIVE', reason: 'REPRESENTATION_NOT_YET_VALID' }
}
const INACTIVE_ORDER: Array<Exclude<RepresentationStatus, 'active'>> = ['revoked', 'majority', 'expired', 'not_yet_valid']

/**
 * The representation under which `sender` acts for `patient` at `time` (R06..R12), or why
 * not. Among the sender's representations in force, the first (oldest) whose scope lists
 * one of `acts` and whose `fits` holds; `fits` says why a particular act exceeds a scope (a grant
 * outside its categories, an answer wider than the request). Pure.
 */
export function actingRepresentation (
  view: StateView, patient: Uint8Array, sender: Uint8Array, acts: readonly RepresentationAct[], time: number,
  fits: (r: Representation) => ActingRefusal | null = () => null
): { representation: Representation } | { refusal: ActingRefusal } {
  const mine = listRepresentations(view, patient).filter(r => bytesEqual(r.representative, sender))
  if (mine.length === 0) return { refusal: { code: 'NOT_REPRESENTATIVE', reason: 'NOT_REPRESENTATIVE' } } // R06
  const active = mine.filter(r => representationStatus(r, time) === 'active')
  if (active.length === 0) { // R07..R10
    const statuses = new Set(mine.map(r => representationStatus(r, time)))
    const closest = INACTIVE_ORDER.find(st => statuses.has(st)) ?? 'revoked'
    return { refusal: INACTIVE_RANK[closest] }
  }
  let miss: ActingRefusal = { code: 'SCOPE_EXCEEDED', reason: 'ACT_NOT_IN_SCOPE' } // R11
  for (const r of active) {
    if (!acts.some(a => r.scope.includes(a))) continue
    const problem = fits(r)
    if (problem === null) return { representation: r }
    miss = problem // R12
  }
  return { refusal: miss }
}

/** Whether a representation's category limit admits a grant's categories (R12): `*` only under `*`, a sensitive category only when named. */
export function grantCategoriesFit (r: Representation, categories: readonly GrantCategory[]): boolean {
  if (r.categories === undefined) return true
  const allowed = r.categories as readonly string[]
  return categories.every(c => allowed.includes(c) || (c !== WILDCARD && allowed.includes(WILDCARD) && !SENSITIVE_CATEGORIES.has(c)))
}

/**
 * Whether a grant answering a request stays within it (R13): to the requesting provider,
 * no category, action or purpose the provider did not ask for. A representative with
 * `answer` but not `grant` in its scope may only answer this way.
 */
export function grantWithinRequest (req: AccessRequest, grant: { grantee: { type: string, key?: Uint8Array }, categories: readonly string[], actions: readonly string[], purposes: readonly string[] }): boolean {
  if (grant.grantee.type !== 'provider' || grant.grantee.key === undefined || !bytesEqual(grant.grantee.key, req.provider)) return false
  return grant.categories.every(c => (req.categories as readonly string[]).includes(c)) &&
    grant.actions.every(a => (req.actions as readonly string[]).includes(a)) &&
    grant.purposes.every(p => (req.purposes as readonly string[]).includes(p))
}

/** How a trail shows who acted: `by representative <key> (<basis>)` for a representative, else `by <key>`. */
export function describeActor (entry: { actor: Uint8Array, actedAs?: ActedAs }): string {
  if (entry.actedAs !== undefined) return `by representative ${toHex(entry.actedAs.representative)} (${entry.actedAs.basis})`
  return `by ${toHex(entry.actor)}`
}
