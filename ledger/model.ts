import { toHex } from '../codec/index.js'
import type { Action, Category, GrantCategory, Purpose, Role } from './constants.js'
import type { ResultCode } from './errors.js'
import type { Grantee, TxKind } from './kinds.js'
import type { RepresentationBasis } from './representation.js'

/** A representative who acted for the patient: its key, the representation and its legal basis. */
export interface ActedAs { representative: Uint8Array, representation: Uint8Array, basis: RepresentationBasis }

/** State key layout. Hex is lower-case; numbers are zero-padded so keys sort in order. */
export const keys = {
  chain: () => 'chain',
  member: (name: string) => `member/${name}`,
  memberKey: (key: Uint8Array) => `memberkey/${toHex(key)}`,
  provider: (key: Uint8Array) => `provider/${toHex(key)}`,
  patient: (id: Uint8Array) => `patient/${toHex(id)}`,
  patientKey: (key: Uint8Array) => `patientkey/${toHex(key)}`,
  recovery: (id: Uint8Array) => `recovery/${toHex(id)}`,
  nonce: (key: Uint8Array) => `nonce/${toHex(key)}`,
  consentGroup: (patient: Uint8Array) => `consent/${toHex(patient)}/`,
  consent: (patient: Uint8Array, grantId: Uint8Array) => `consent/${toHex(patient)}/${toHex(grantId)}`,
  requestGroup: (patient: Uint8Array) => `request/${toHex(patient)}/`,
  request: (patient: Uint8Array, id: Uint8Array) => `request/${toHex(patient)}/${toHex(id)}`,
  recordGroup: (patient: Uint8Array) => `record/${toHex(patient)}/`,
  record: (patient: Uint8Array, id: Uint8Array) => `record/${toHex(patient)}/${toHex(id)}`,
  breakGlassWindow: (patient: Uint8Array, provider: Uint8Array) => `bgwindow/${toHex(patient)}/${toHex(provider)}`,
  breakGlassGroup: (patient: Uint8Array) => `bgevent/${toHex(patient)}/`,
  breakGlassEvent: (patient: Uint8Array, height: number, seq: number) => `bgevent/${toHex(patient)}/${pad(height, 12)}/${pad(seq, 6)}`,
  representationGroup: (patient: Uint8Array) => `representation/${toHex(patient)}/`,
  representation: (patient: Uint8Array, id: Uint8Array) => `representation/${toHex(patient)}/${toHex(id)}`,
  /** Append-only audit log (on disk only): a prefix scan by patient returns the trail in order. */
  auditPrefix: (patient: Uint8Array) => `audit/${toHex(patient)}/`,
  audit: (patient: Uint8Array, height: number, seq: number) => `audit/${toHex(patient)}/${pad(height, 12)}/${pad(seq, 6)}`
}

export function pad (n: number, width: number): string { return String(n).padStart(width, '0') }

export interface BlockPoint { height: number, time: number }

export interface ChainInfo { chainId: string }
export interface Member { name: string, key: Uint8Array }
export interface Provider {
  key: Uint8Array
  role: Role
  name: string
  /** Name of the member organisation that registered it (and alone may suspend it). */
  org: string
  status: 'active' | 'suspended'
  registered: BlockPoint
  suspended?: BlockPoint & { reason?: string }
}
export interface Patient {
  /** Stable pseudonymous id: the key the patient registered with. */
  id: Uint8Array
  /** Current signing key (changes with rotation or recovery). */
  key: Uint8Array
  guardians?: Uint8Array[]
  threshold?: number
  registered: BlockPoint
}
export interface Recovery { candidates: Array<{ newKey: Uint8Array, approvals: Uint8Array[] }> }
export interface Grant {
  id: Uint8Array
  patient: Uint8Array
  grantee: Grantee
  categories: GrantCategory[]
  exclude?: Category[]
  actions: Action[]
  purposes: Purpose[]
  validFrom: number
  validUntil: number
  granted: BlockPoint
  revoked?: BlockPoint
  /** Made by a representative for the patient (absent: by the patient). */
  grantedBy?: ActedAs
  /** Revoked by a representative for the patient. */
  revokedBy?: ActedAs
}
export interface AccessRequest {
  id: Uint8Array
  patient: Uint8Array
  provider: Uint8Array
  categories: Category[]
  actions: Action[]
  purposes: Purpose[]
  note?: string
  requested: BlockPoint
  expires: number
}
export interface Amendment { id: Uint8Array, hash: Uint8Array, locator: string, author: Uint8Array, at: BlockPoint }
export interface RecordEntry {
  id: Uint8Array
  patient: Uint8Array
  category: Category
  hash: Uint8Array
  locator: string
  author: Uint8Array
  anchored: BlockPoint
  amendments: Amendment[]
  erased?: BlockPoint & { by: Uint8Array }
}
export interface BreakGlassWindow { provider: Uint8Array, from: number, until: number, txId: Uint8Array }
export interface BreakGlassEvent {
  txId: Uint8Array
  patient: Uint8Array
  provider: Uint8Array
  org: string
  role: Role
  reason: string
  from: number
  until: number
  at: BlockPoint
}

/**
 * One audit record (append-only, on disk). A refused access attempt (type `access.refused`)
 * has `refused: true`, `permit: false`, the attempted `kind`, its result `code` and, in
 * `reason`, the decision table's reason when the table refused it (else the code).
 */
export interface AuditEntry {
  type: string
  txId: Uint8Array
  actor: Uint8Array
  at: BlockPoint
  permit?: boolean
  reason?: string
  breakGlass?: boolean
  grantId?: Uint8Array
  record?: Uint8Array
  category?: Category
  action?: Action
  purpose?: Purpose
  refused?: boolean
  kind?: TxKind
  code?: Exclude<ResultCode, 'OK'>
  /** The actor acted as the patient's representative (issue 19): "by representative X (basis)". */
  actedAs?: ActedAs
  /** The representation a `representation.*` entry is about, and its legal basis. */
  representation?: Uint8Array
  basis?: RepresentationBasis
}
