import { fromHex, toHex } from '../codec/index.js'
import {
  ACTIONS, CATEGORIES, LedgerError, MAX_GRANT_VALIDITY_MS, PURPOSES, SENSITIVE_CATEGORIES, WILDCARD, isTerm, parseTxBody,
  type Action, type Category, type GrantCategory, type Grantee, type Purpose, type TxBody
} from '../ledger/index.js'
import { CODE_ACTION, LABEL_CATEGORY, NARROWER_LABEL, SYSTEM } from './codes.js'
import type { CodeableConcept, Coding, FhirReference, OperationOutcome, OperationOutcomeIssue, Period, Provision } from './types.js'

export interface ImportOptions {
  /** Id of the patient who signs the grant: the Consent must be about this patient. */
  patient: Uint8Array
  /**
   * End of validity (ms, exclusive) when `provision.period.end` is absent. FHIR's "no end" is
   * more than a grant can say (at most 10 years), so the end is an explicit input the patient
   * signs, never a default.
   */
  validUntil?: number
}

export type GrantBody = TxBody<'consent.grant'>
export type ImportResult = { ok: true, body: GrantBody } | { ok: false, outcome: OperationOutcome }

// Top-level elements that describe the Consent (metadata, evidence, legal basis) without
// changing the rule a grant enforces; every other element is read or refused.
const INFORMATIONAL = new Set(['resourceType', 'id', 'meta', 'implicitRules', 'language', 'text', 'contained', 'extension', 'identifier',
  'category', 'organization', 'policy', 'sourceAttachment', 'sourceReference', 'verification'])
const READ = new Set(['status', 'scope', 'patient', 'dateTime', 'performer', 'policyRule', 'provision'])
const TOP_PROVISION = new Set(['type', 'period', 'actor', 'action', 'purpose', 'securityLabel', 'code', 'provision'])
const EXCEPTION_PROVISION = new Set(['type', 'securityLabel', 'code'])

class Issues {
  readonly list: OperationOutcomeIssue[] = []
  refuse (expression: string, diagnostics: string, code = 'not-supported'): void {
    this.list.push({ severity: 'error', code, expression: [expression], diagnostics })
  }
}

/**
 * A patient's FHIR R4 Consent as the body of a consent.grant transaction, or an
 * OperationOutcome naming every element the grant cannot represent exactly (docs/fhir.md
 * has the mapping and each refusal). Never approximates: an element is mapped exactly or
 * the import is refused. Pure.
 */
export function consentToGrant (resource: unknown, opts: ImportOptions): ImportResult {
  const is = new Issues()
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource) || (resource as { resourceType?: unknown }).resourceType !== 'Consent') {
    is.refuse('Consent', `expected a FHIR Consent resource, got ${describe((resource as { resourceType?: unknown } | null)?.resourceType ?? resource)}`, 'invalid')
    return { ok: false, outcome: outcome(is) }
  }
  const c = resource as Record<string, unknown>
  for (const k of Object.keys(c)) {
    if (INFORMATIONAL.has(k) || READ.has(k)) continue
    is.refuse(`Consent.${k}`, k === 'modifierExtension' ? 'a modifier extension changes the meaning of the Consent; medchain knows none' : `element ${k} is not part of FHIR R4 Consent or not representable`)
  }
  if (c.status !== 'active') is.refuse('Consent.status', `status ${describe(c.status)}: only an active Consent becomes a grant`, 'business-rule')
  const scope = c.scope as CodeableConcept | undefined
  if (!hasCoding(scope, SYSTEM.consentScope, 'patient-privacy')) is.refuse('Consent.scope', `scope ${describe(codes(scope))} is not patient-privacy: only privacy consents are grants`)
  const patientRef = `Patient/${toHex(opts.patient)}`
  const patient = c.patient as FhirReference | undefined
  if (patient?.reference !== patientRef) is.refuse('Consent.patient', `patient ${describe(patient?.reference ?? patient)} is not the signing patient ${patientRef}`, 'business-rule')
  const performers = (c.performer ?? []) as FhirReference[]
  performers.forEach((p, i) => {
    if (p?.reference !== patientRef) is.refuse(`Consent.performer[${i}]`, `performer ${describe(p?.reference ?? p)} is not the patient: a grant is made and signed by the patient`, 'business-rule')
  })
  const rule = c.policyRule as CodeableConcept | undefined
  if (rule !== undefined && !hasCoding(rule, SYSTEM.actCode, 'OPTIN')) is.refuse('Consent.policyRule', `policy rule ${describe(codes(rule))}: medchain grants are opt-in (OPTIN) only`)

  const p = c.provision as Provision | undefined
  if (p === undefined || p === null || typeof p !== 'object') {
    is.refuse('Consent.provision', 'no provision: a grant needs a computable rule', 'required')
    return { ok: false, outcome: outcome(is) }
  }
  for (const k of Object.keys(p)) {
    if (!TOP_PROVISION.has(k)) is.refuse(`Consent.provision.${k}`, elementReason(k))
  }
  if (p.type !== 'permit') {
    is.refuse('Consent.provision.type', `type ${describe(p.type)}: a grant permits; without a grant medchain already denies, so a deny-only Consent has nothing to record`)
  }

  const grantee = readGrantee(is, p, c.organization)
  const actions = readActions(is, p.action)
  const purposes = readPurposes(is, p.purpose)
  const window = readWindow(is, p.period, c.dateTime, opts.validUntil)
  const categories = readScope(is, 'Consent.provision', p)
  const exclude: Category[] = []
  ;(p.provision ?? []).forEach((sub, i) => {
    const path = `Consent.provision.provision[${i}]`
    if (sub?.type !== 'deny') {
      is.refuse(`${path}.type`, `nested ${describe(sub?.type)}: a grant is one permit; only deny exceptions (excluded categories) nest in it`)
      return
    }
    for (const k of Object.keys(sub)) {
      if (!EXCEPTION_PROVISION.has(k)) is.refuse(`${path}.${k}`, k === 'actor' || k === 'purpose' || k === 'action' || k === 'period' ? `an exclusion applies to the whole grant; a deny limited by ${k} is not representable` : elementReason(k))
    }
    if (sub.code === undefined && sub.securityLabel === undefined) {
      // Limited only by elements refused above (data, dataPeriod...), or by nothing: a deny of all data.
      if (Object.keys(sub).every(k => EXCEPTION_PROVISION.has(k))) is.refuse(path, 'a deny of all data leaves the grant nothing to permit', 'business-rule')
      return
    }
    const scope = readScope(is, path, sub)
    if (scope === null) return
    if (scope.includes(WILDCARD)) { is.refuse(`${path}.securityLabel`, 'an exclusion names categories; N (all normal data) is not one'); return }
    for (const cat of scope as Category[]) if (!exclude.includes(cat)) exclude.push(cat)
  })
  if (is.list.length > 0 || grantee === null || actions === null || purposes === null || window === null || categories === null) {
    return { ok: false, outcome: outcome(is) }
  }
  const raw: Record<string, unknown> = { grantee, categories, actions, purposes, validFrom: window.from, validUntil: window.until }
  if (exclude.length > 0) raw.exclude = exclude.sort()
  try {
    return { ok: true, body: parseTxBody('consent.grant', raw) }
  } catch (err) {
    if (!(err instanceof LedgerError)) throw err
    is.refuse('Consent.provision', `${err.code}: ${err.message}`, 'invalid')
    return { ok: false, outcome: outcome(is) }
  }
}

function readGrantee (is: Issues, p: Provision, organization: unknown): Grantee | null {
  const actors = p.actor ?? []
  if (actors.length > 1) { is.refuse('Consent.provision.actor', `${actors.length} actors: a grant has one grantee (import one Consent per recipient)`); return null }
  if (actors.length === 0) {
    // PCF basic consents name no actor: they permit the custodian organisation's domain.
    const orgs = Array.isArray(organization) ? organization as FhirReference[] : []
    if (orgs.length !== 1) { is.refuse('Consent.provision.actor', 'no actor and not exactly one Consent.organization: nobody to grant to', 'required'); return null }
    return readRef(is, 'Consent.organization[0]', orgs[0], ['Organization'])
  }
  const a = actors[0]
  if (!hasCoding(a?.role, SYSTEM.participationType, 'IRCP')) {
    is.refuse('Consent.provision.actor[0].role', `role ${describe(codes(a?.role))}: a grantee is an information recipient (v3-ParticipationType IRCP)`)
    return null
  }
  return readRef(is, 'Consent.provision.actor[0].reference', a.reference, ['Practitioner', 'Organization', 'PractitionerRole'])
}

function readRef (is: Issues, path: string, ref: FhirReference | undefined, types: string[]): Grantee | null {
  const literal = /^(Practitioner|Organization)\/([A-Za-z0-9\-.]{1,64})$/.exec(ref?.reference ?? '')
  if (literal !== null && types.includes(literal[1])) {
    if (literal[1] === 'Organization') return { type: 'org', member: literal[2] }
    if (/^[0-9a-f]{64}$/.test(literal[2])) return { type: 'provider', key: fromHex(literal[2], 32) }
    is.refuse(path, `${ref?.reference ?? ''}: a provider is named by its medchain key (Practitioner/<64 hex>)`, 'not-found')
    return null
  }
  const id = ref?.reference === undefined ? ref?.identifier : undefined
  if (id?.system === SYSTEM.member && typeof id.value === 'string' && types.includes('Organization')) return { type: 'org', member: id.value }
  if (id?.system === SYSTEM.provider && typeof id.value === 'string' && /^[0-9a-f]{64}$/.test(id.value)) return { type: 'provider', key: fromHex(id.value, 32) }
  if (id?.system === SYSTEM.role && types.includes('PractitionerRole')) {
    if (isTerm('role', id.value)) return { type: 'role', role: id.value }
    is.refuse(path, `role ${describe(id.value)} is not a medchain role`, 'code-invalid')
    return null
  }
  is.refuse(path, `${describe(ref?.reference ?? ref?.identifier ?? ref)}: a grantee is a provider (Practitioner/<key>), a member organisation (Organization/<name>) or a role (identifier ${SYSTEM.role}); groups and other recipients are not representable`)
  return null
}

function readActions (is: Issues, action: CodeableConcept[] | undefined): Action[] | null {
  if (action === undefined) return [...ACTIONS] // FHIR: no action means every action
  const out = new Set<Action>()
  let ok = true
  action.forEach((cc, i) => {
    const coding = (cc?.coding ?? []).find(x => x.system === SYSTEM.consentAction && x.code !== undefined && CODE_ACTION[x.code] !== undefined)
    if (coding === undefined) {
      is.refuse(`Consent.provision.action[${i}]`, `action ${describe(codes(cc))}: medchain's actions are consentaction access (read) and correct (write)`)
      ok = false
    } else out.add(CODE_ACTION[coding.code as string])
  })
  return ok ? [...out].sort() : null
}

function readPurposes (is: Issues, purpose: Coding[] | undefined): Purpose[] | null {
  if (purpose === undefined) return [...PURPOSES] // FHIR: no purpose means every purpose
  const out = new Set<Purpose>()
  let ok = true
  purpose.forEach((x, i) => {
    if (x?.system === SYSTEM.actReason && isTerm('purpose', x.code)) { out.add(x.code); return }
    ok = false
    const why = x?.code === 'BTG'
      ? 'BTG: break-glass is not consented in medchain; emergency roles open a break-glass window (access.break_glass), which every patient is subject to'
      : `purpose ${describe(x?.system)}|${describe(x?.code)} is not a v3-ActReason PurposeOfUse medchain knows (${PURPOSES.join(', ')})`
    is.refuse(`Consent.provision.purpose[${i}]`, why, 'code-invalid')
  })
  return ok ? [...out].sort() : null
}

/** A grant's window: [validFrom, validUntil) in ms; FHIR's period end is inclusive at its precision. */
function readWindow (is: Issues, period: Period | undefined, dateTime: unknown, fallbackUntil: number | undefined): { from: number, until: number } | null {
  const startText = period?.start ?? (typeof dateTime === 'string' ? dateTime : undefined)
  const start = startText === undefined ? null : parseFhirTime(startText)
  if (start === null) {
    is.refuse(period?.start !== undefined ? 'Consent.provision.period.start' : 'Consent.dateTime', `start ${describe(startText)} is not a FHIR date or dateTime with a time zone`, 'invalid')
    return null
  }
  let until: number
  if (period?.end !== undefined) {
    const end = parseFhirTime(period.end)
    if (end === null) { is.refuse('Consent.provision.period.end', `end ${describe(period.end)} is not a FHIR date or dateTime with a time zone`, 'invalid'); return null }
    until = end.after
  } else if (fallbackUntil !== undefined) {
    until = fallbackUntil
  } else {
    is.refuse('Consent.provision.period.end', 'no end: a grant lasts at most 10 years, so its end must be given (period.end, or the validUntil the patient signs)', 'required')
    return null
  }
  if (until <= start.at || until - start.at > MAX_GRANT_VALIDITY_MS) {
    is.refuse('Consent.provision.period', `window ${new Date(start.at).toISOString()} .. ${new Date(until).toISOString()}: need start < end and at most 10 years`, 'business-rule')
    return null
  }
  return { from: start.at, until }
}

/**
 * A FHIR date or dateTime: `at` its first ms, `after` the first ms after it at its precision
 * (a day ends at the next midnight; a second at the next second). A date without a zone is
 * read as UTC; a dateTime needs its zone (FHIR requires one when a time is given).
 */
export function parseFhirTime (text: string): { at: number, after: number } | null {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (day !== null) {
    const at = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]))
    if (new Date(at).toISOString().slice(0, 10) !== text) return null
    return { at, after: at + 86_400_000 }
  }
  const full = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text)
  if (full === null) return null
  const at = Date.parse(text)
  if (!Number.isFinite(at)) return null
  const digits = full[2]?.length ?? 0
  if (digits > 3) return null // finer than a millisecond is more than the ledger keeps
  return { at, after: at + 10 ** (3 - digits) }
}

/**
 * A provision's data scope as grant categories: the union of its `code` (medchain categories)
 * and `securityLabel` (N: every non-sensitive category, `*`; an ActCode label that means a
 * sensitive category exactly). Neither: every category, sensitive ones included (FHIR: the
 * rule covers all data).
 */
function readScope (is: Issues, path: string, p: Provision): GrantCategory[] | null {
  if (p.code === undefined && p.securityLabel === undefined) return [WILDCARD, ...[...SENSITIVE_CATEGORIES].sort()] as GrantCategory[]
  const out = new Set<GrantCategory>()
  let ok = true
  ;(p.code ?? []).forEach((cc, i) => {
    const coding = (cc?.coding ?? []).find(x => x.system === SYSTEM.category)
    if (coding !== undefined && isTerm('category', coding.code)) { out.add(coding.code); return }
    ok = false
    is.refuse(`${path}.code[${i}]`, `code ${describe(codes(cc))} is not a medchain data category (${SYSTEM.category}: ${CATEGORIES.join(', ')})`, 'code-invalid')
  })
  const labels = p.securityLabel ?? []
  const present = new Set(labels.map(l => `${l?.system ?? ''}|${l?.code ?? ''}`))
  labels.forEach((l, i) => {
    if (l?.system === SYSTEM.confidentiality && l.code === 'N') { out.add(WILDCARD); return }
    if (l?.system === SYSTEM.actCode && l.code !== undefined) {
      const exact = LABEL_CATEGORY[l.code]
      if (exact !== undefined) { out.add(exact); return }
      const broader = NARROWER_LABEL[l.code]
      if (broader !== undefined) {
        const own = Object.entries(LABEL_CATEGORY).filter(([, cat]) => cat === broader).map(([code]) => code)
        if (own.some(code => present.has(`${SYSTEM.actCode}|${code}`))) return // alongside its category's label: adds nothing
        ok = false
        is.refuse(`${path}.securityLabel[${i}]`, `${l.code} is narrower than medchain's ${broader}: a grant on ${broader} would cover more than the Consent says`)
        return
      }
    }
    ok = false
    const why = l?.system === SYSTEM.confidentiality
      ? `confidentiality ${describe(l.code)}: medchain's categories say what data is, not how confidential; only N (normal: every non-sensitive category) maps`
      : `label ${describe(l?.system)}|${describe(l?.code)} names no medchain category`
    is.refuse(`${path}.securityLabel[${i}]`, why)
  })
  return ok ? [...out].sort() : null
}

function elementReason (k: string): string {
  switch (k) {
    case 'data': return 'medchain decides by data category, not by resource instance or author'
    case 'dataPeriod': return 'medchain decides by data category, not by when the data was recorded'
    case 'class': return 'resource types are not medchain categories: name categories in code or securityLabel'
    default: return `element ${k} is not representable in a grant`
  }
}

function hasCoding (cc: CodeableConcept | undefined, system: string, code: string): boolean {
  return (cc?.coding ?? []).some(x => x?.system === system && x.code === code)
}
function codes (cc: CodeableConcept | undefined): string[] { return (cc?.coding ?? []).map(x => `${x?.system ?? ''}|${x?.code ?? ''}`) }
function describe (v: unknown): string { return v === undefined ? '(absent)' : JSON.stringify(v) }
function outcome (is: Issues): OperationOutcome { return { resourceType: 'OperationOutcome', issue: is.list } }
