// Consent import element by element: what maps exactly, and what is refused with its path.
import t from 'tap'
import { toHex } from '../../codec/index.js'
import { SYSTEM, consentToGrant, parseFhirTime } from '../../fhir/index.js'
import { fhirProblems } from './validator.js'

const PATIENT = new Uint8Array(32).fill(7)
const IRCP = { coding: [{ system: SYSTEM.participationType, code: 'IRCP' }] }
const label = (system: string, code: string): { system: string, code: string } => ({ system, code })

function consent (provision: Record<string, unknown>, top: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: SYSTEM.consentScope, code: 'patient-privacy' }] },
    category: [{ coding: [{ system: SYSTEM.loinc, code: '59284-0' }] }],
    patient: { reference: `Patient/${toHex(PATIENT)}` },
    dateTime: '2024-01-01',
    policyRule: { coding: [{ system: SYSTEM.actCode, code: 'OPTIN' }] },
    provision: { type: 'permit', period: { start: '2024-01-01T00:00:00Z', end: '2024-06-30' }, actor: [{ role: IRCP, reference: { reference: 'Organization/alpha' } }], purpose: [label(SYSTEM.actReason, 'TREAT')], action: [{ coding: [{ system: SYSTEM.consentAction, code: 'access' }] }], ...provision },
    ...top
  }
}

t.test('the fixture itself imports and validates', async t => {
  const c = consent({ securityLabel: [label(SYSTEM.confidentiality, 'N')] })
  t.same(fhirProblems(c), [])
  const r = consentToGrant(c, { patient: PATIENT })
  t.same(r.ok && r.body, {
    grantee: { type: 'org', member: 'alpha' }, categories: ['*'], actions: ['read'], purposes: ['TREAT'],
    validFrom: Date.UTC(2024, 0, 1), validUntil: Date.UTC(2024, 6, 1)
  }, 'an end date covers its whole day (UTC)')
})

t.test('sensitivity labels: exact ones map, narrower ones alone are refused', async t => {
  const scope = (labels: Array<[string, string]>): unknown => {
    const r = consentToGrant(consent({ securityLabel: labels.map(([s, c]) => label(s, c)) }), { patient: PATIENT })
    return r.ok ? r.body.categories : r.outcome.issue.map(i => `${i.expression?.[0] ?? ''}`)
  }
  t.same(scope([[SYSTEM.actCode, 'MH'], [SYSTEM.actCode, 'PSY']]), ['mental_health'])
  t.same(scope([[SYSTEM.actCode, 'ETH']]), ['substance_use'])
  t.same(scope([[SYSTEM.actCode, 'SEX'], [SYSTEM.actCode, 'STD'], [SYSTEM.actCode, 'GDIS'], [SYSTEM.actCode, 'HIV']]), ['genomics', 'hiv', 'sexual_reproductive'])
  t.same(scope([[SYSTEM.actCode, 'PSY']]), ['Consent.provision.securityLabel[0]'], 'PSY alone is narrower than mental_health')
  t.same(scope([[SYSTEM.actCode, 'STD']]), ['Consent.provision.securityLabel[0]'], 'STD alone is narrower than sexual_reproductive')
  t.same(scope([[SYSTEM.confidentiality, 'N'], [SYSTEM.confidentiality, 'R']]), ['Consent.provision.securityLabel[1]'])
  t.same(scope([[SYSTEM.actCode, 'SDV']]), ['Consent.provision.securityLabel[0]'])
})

t.test('each unrepresentable element is refused at its path', async t => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, string]> = [
    ['two actors', { actor: [{ role: IRCP, reference: { reference: 'Organization/alpha' } }, { role: IRCP, reference: { reference: 'Organization/beta' } }] }, {}, 'Consent.provision.actor'],
    ['a group', { actor: [{ role: IRCP, reference: { reference: 'Group/x' } }] }, {}, 'Consent.provision.actor[0].reference'],
    ['a practitioner not named by key', { actor: [{ role: IRCP, reference: { reference: 'Practitioner/ex-practitioner' } }] }, {}, 'Consent.provision.actor[0].reference'],
    ['an author role', { actor: [{ role: { coding: [{ system: SYSTEM.participationType, code: 'AUT' }] }, reference: { reference: 'Organization/alpha' } }] }, {}, 'Consent.provision.actor[0].role'],
    ['BTG', { purpose: [label(SYSTEM.actReason, 'BTG')] }, {}, 'Consent.provision.purpose[0]'],
    ['disclose', { action: [{ coding: [{ system: SYSTEM.consentAction, code: 'disclose' }] }] }, {}, 'Consent.provision.action[0]'],
    ['a resource class', { class: [{ system: 'http://hl7.org/fhir/resource-types', code: 'Observation' }] }, {}, 'Consent.provision.class'],
    ['a foreign code', { code: [{ coding: [{ system: SYSTEM.loinc, code: '11450-4' }] }] }, {}, 'Consent.provision.code[0]'],
    ['a deny for one purpose', { provision: [{ type: 'deny', purpose: [label(SYSTEM.actReason, 'HMARKT')], code: [{ coding: [{ system: SYSTEM.category, code: 'labs' }] }] }] }, {}, 'Consent.provision.provision[0].purpose'],
    ['a deny of all data', { provision: [{ type: 'deny' }] }, {}, 'Consent.provision.provision[0]'],
    ['a local time without zone', { period: { start: '2024-01-01T10:00:00', end: '2024-02-01' } }, {}, 'Consent.provision.period.start'],
    ['more than 10 years', { period: { start: '2024-01-01', end: '2040-01-01' } }, {}, 'Consent.provision.period'],
    ['a draft', {}, { status: 'draft' }, 'Consent.status'],
    ['a research scope', {}, { scope: { coding: [{ system: SYSTEM.consentScope, code: 'research' }] } }, 'Consent.scope'],
    ['an opt-out rule', {}, { policyRule: { coding: [{ system: SYSTEM.actCode, code: 'OPTOUT' }] } }, 'Consent.policyRule'],
    ['a modifier extension', {}, { modifierExtension: [{ url: 'http://example.org/x', valueBoolean: true }] }, 'Consent.modifierExtension']
  ]
  for (const [name, provision, top, path] of cases) {
    const r = consentToGrant(consent(provision, top), { patient: PATIENT })
    t.equal(r.ok, false, `${name}: refused`)
    if (!r.ok) {
      t.same(r.outcome.issue.map(i => i.expression?.[0]), [path], `${name}: at ${path}`)
      t.same(fhirProblems(r.outcome), [], `${name}: a valid OperationOutcome`)
    }
  }
  t.same(consentToGrant({ resourceType: 'Patient' }, { patient: PATIENT }).ok, false, 'not a Consent')
})

t.test('FHIR times: precision decides the exclusive end', async t => {
  t.same(parseFhirTime('2024-02-29'), { at: Date.UTC(2024, 1, 29), after: Date.UTC(2024, 2, 1) })
  t.same(parseFhirTime('2024-01-01T00:00:00Z'), { at: Date.UTC(2024, 0, 1), after: Date.UTC(2024, 0, 1) + 1000 })
  t.same(parseFhirTime('2024-01-01T00:00:00.123+01:00'), { at: Date.UTC(2023, 11, 31, 23, 0, 0, 123), after: Date.UTC(2023, 11, 31, 23, 0, 0, 124) })
  t.equal(parseFhirTime('2023-02-29'), null, 'no such day')
  t.equal(parseFhirTime('2024-01-01T00:00:00.1234Z'), null, 'finer than a millisecond')
  t.equal(parseFhirTime('2024'), null, 'a year alone is refused, not stretched')
})
