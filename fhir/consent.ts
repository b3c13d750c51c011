import { toHex } from '../codec/index.js'
import { WILDCARD, grantStatus, type Category, type Grant, type Grantee } from '../ledger/index.js'
import { ACTION_CODE, FHIR_ID, SENSITIVE_LABELS, SYSTEM, isSensitive } from './codes.js'
import type { Coding, FhirConsent, FhirReference, Provision } from './types.js'

export function patientRef (patient: Uint8Array): FhirReference { return { reference: `Patient/${toHex(patient)}` } }

/** A grantee as a FHIR reference: a provider is a Practitioner, a member an Organization, a role a PractitionerRole by identifier. */
export function granteeRef (g: Grantee): FhirReference {
  switch (g.type) {
    case 'provider': return { reference: `Practitioner/${toHex(g.key)}` }
    case 'org': return FHIR_ID.test(g.member)
      ? { reference: `Organization/${g.member}` }
      : { type: 'Organization', identifier: { system: SYSTEM.member, value: g.member } }
    case 'role': return { type: 'PractitionerRole', identifier: { system: SYSTEM.role, value: g.role } }
  }
}

const categoryConcept = (c: Category): { coding: Coding[] } => ({ coding: [{ system: SYSTEM.category, code: c }] })
const labelsOf = (c: Category): Coding[] => (SENSITIVE_LABELS[c] ?? []).map(code => ({ system: SYSTEM.actCode, code }))

/** FHIR instants of ms times; `end` is inclusive in FHIR, so an exclusive bound ends 1 ms earlier. */
export const instant = (ms: number): string => new Date(ms).toISOString()

/**
 * One grant as a FHIR R4 Consent (docs/fhir.md). The data scope of a provision is the union of
 * its `code` (medchain categories) and `securityLabel` (N for `*`, ActCode labels for each named
 * sensitive category); exclusions are one nested deny provision. `time` decides the status: a
 * revoked or expired grant is `inactive`.
 */
export function grantToConsent (grant: Grant, time: number): FhirConsent {
  const status = grantStatus(grant, time)
  const named = (grant.categories as string[]).filter(c => c !== WILDCARD) as Category[]
  const wildcard = (grant.categories as string[]).includes(WILDCARD)
  // `*` covers every named non-sensitive category already: emitting both would say the same twice.
  const coded = wildcard ? named.filter(isSensitive) : named
  const labels: Coding[] = [
    ...(wildcard ? [{ system: SYSTEM.confidentiality, code: 'N' }] : []),
    ...coded.flatMap(labelsOf)
  ]
  const provision: Provision = {
    type: 'permit',
    period: { start: instant(grant.validFrom), end: instant(grant.validUntil - 1) },
    actor: [{ role: { coding: [{ system: SYSTEM.participationType, code: 'IRCP', display: 'information recipient' }] }, reference: granteeRef(grant.grantee) }],
    action: grant.actions.map(a => ({ coding: [{ system: SYSTEM.consentAction, code: ACTION_CODE[a] }] })),
    purpose: grant.purposes.map(p => ({ system: SYSTEM.actReason, code: p })),
    ...(labels.length > 0 ? { securityLabel: labels } : {}),
    ...(coded.length > 0 ? { code: coded.map(categoryConcept) } : {})
  }
  if (grant.exclude !== undefined && grant.exclude.length > 0) {
    const exLabels = grant.exclude.flatMap(labelsOf)
    provision.provision = [{
      type: 'deny',
      ...(exLabels.length > 0 ? { securityLabel: exLabels } : {}),
      code: grant.exclude.map(categoryConcept)
    }]
  }
  return {
    resourceType: 'Consent',
    id: toHex(grant.id),
    status: status === 'revoked' || status === 'expired' ? 'inactive' : 'active',
    scope: { coding: [{ system: SYSTEM.consentScope, code: 'patient-privacy' }] },
    category: [{ coding: [{ system: SYSTEM.loinc, code: '59284-0', display: 'Patient Consent' }] }],
    patient: patientRef(grant.patient),
    dateTime: instant(grant.granted.time),
    performer: [patientRef(grant.patient)],
    // medchain is opt-in: nothing is shared without a grant (R4 ppc-1 wants a policy or a rule).
    policyRule: { coding: [{ system: SYSTEM.actCode, code: 'OPTIN' }] },
    provision
  }
}
