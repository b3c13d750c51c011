// The IHE PCF example consents (../shared/fhir/ihe-pcf, read at test time) through the
// importer: each imports and then decides as its text says, or is refused with the element
// it cannot represent. docs/fhir.md lists the same table.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { toHex } from '../../codec/index.js'
import { consentToGrant } from '../../fhir/index.js'
import { checkAccess, type Category, type Purpose } from '../../ledger/index.js'
import { world, DAY, type Chain } from '../ledger/harness.js'
import { fhirProblems } from './validator.js'

// ../shared from the repository root: tests run as ts from test/fhir, or compiled from dist/test/fhir.
const dirFor = (): string => fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../../shared/fhir/ihe-pcf/' : '../../../shared/fhir/ihe-pcf/', import.meta.url))

/**
 * An example with its placeholders bound to this chain: Patient/ex-patient is the signing
 * patient and Organization/ex-organization member `alpha` (the examples' ids name no real
 * key or member). Nothing else is changed.
 */
function example (c: Chain, name: string): unknown {
  const text = readFileSync(`${dirFor()}Consent-ex-${name}.json`, 'utf8')
    .replaceAll('"Patient/ex-patient"', `"Patient/${toHex(c.key('pat'))}"`)
    .replaceAll('"Organization/ex-organization"', '"Organization/alpha"')
  return JSON.parse(text)
}

type Ask = [who: string, category: Category, purpose: Purpose, expected: string]
const UNTIL = (c: Chain): number => c.time + 365 * DAY

const IMPORTS: Array<{ name: string, chain?: string, asks: Ask[] }> = [
  // Basic: permit TREAT, HPAYMT, HOPERAT to the organisation's domain, all data.
  ...['consent-basic-treat', 'consent-basic-ink'].map(name => ({
    name,
    asks: [
      ['drA', 'labs', 'TREAT', 'permit CONSENT_GRANTED'],
      ['drA', 'mental_health', 'HPAYMT', 'permit CONSENT_GRANTED'],
      ['drA', 'labs', 'HRESCH', 'deny PURPOSE_NOT_GRANTED'],
      ['drB', 'labs', 'TREAT', 'deny NO_CONSENT']
    ] satisfies Ask[]
  })),
  // Research: permit HRESCH only.
  { name: 'consent-basic-research', asks: [['resA', 'labs', 'HRESCH', 'permit CONSENT_GRANTED'], ['drA', 'labs', 'TREAT', 'deny PURPOSE_NOT_GRANTED']] },
  // Advanced normal: permit normal (N) data only; sensitive data is not shared.
  { name: 'consent-advanced-normal', asks: [['drA', 'labs', 'TREAT', 'permit CONSENT_GRANTED'], ['drA', 'mental_health', 'TREAT', 'deny SENSITIVE_NOT_NAMED'], ['drA', 'hiv', 'HOPERAT', 'deny SENSITIVE_NOT_NAMED']] },
  // Expired: ended 2022-12-31, so the ledger refuses it (BAD_WINDOW) and nothing is permitted.
  { name: 'consent-expired-treat', chain: 'BAD_WINDOW', asks: [['drA', 'labs', 'TREAT', 'deny NO_CONSENT']] }
]

const REFUSED: Array<[name: string, expression: string, reason: RegExp]> = [
  ['consent-basic-reject', 'Consent.provision.type', /deny-only Consent has nothing to record/],
  ['dissent-intermediate-break-glass', 'Consent.provision.type', /deny/],
  ['consent-basic-treat-infant', 'Consent.performer[0]', /Patient\/ex-mother.*is not the patient/],
  ['consent-advanced-normal-restricted', 'Consent.provision.securityLabel[1]', /confidentiality "R"/],
  ['consent-advanced-normal-not-restricted', 'Consent.provision.provision[0].securityLabel[0]', /confidentiality "R"/],
  ['consent-advanced-normal-focused-restricted', 'Consent.provision.provision[0].type', /nested "permit"/],
  ['consent-advanced-normal-focused-psy', 'Consent.provision.provision[0].type', /nested "permit"/],
  ['consent-advanced-normal-focused-psy-or-sdv', 'Consent.provision.provision[0].type', /nested "permit"/],
  ['consent-advanced-normal-break-glass-restricted', 'Consent.provision.provision[0].type', /nested "permit"/],
  ['consent-intermediate-authoredby', 'Consent.provision.data', /not by resource instance or author/],
  ['consent-intermediate-data', 'Consent.provision.data', /not by resource instance/],
  ['consent-intermediate-encounter', 'Consent.provision.data', /not by resource instance/],
  ['consent-intermediate-not-authoredby', 'Consent.provision.provision[0].data', /not by resource instance/],
  ['consent-intermediate-not-data', 'Consent.provision.provision[0].data', /not by resource instance/],
  ['consent-intermediate-not-encounter', 'Consent.provision.provision[0].data', /not by resource instance/],
  ['consent-intermediate-timeframe', 'Consent.provision.dataPeriod', /not by when the data was recorded/],
  ['consent-intermediate-not-timeframe', 'Consent.provision.provision[0].dataPeriod', /not by when the data was recorded/],
  ['consent-intermediate-purpose', 'Consent.provision.purpose[0]', /FooBar.*not a v3-ActReason PurposeOfUse/]
]

t.test('every example in ../shared/fhir/ihe-pcf is in one of the two tables', async t => {
  const { readdirSync } = await import('node:fs')
  const files = readdirSync(dirFor()).map(f => f.replace(/^Consent-ex-|\.json$/g, '')).sort()
  t.same([...IMPORTS.map(i => i.name), ...REFUSED.map(r => r[0])].sort(), files)
})

for (const ex of IMPORTS) {
  t.test(`${ex.name} imports and decides as its text says`, async t => {
    const c = world()
    t.equal(c.run('alpha', 'provider.register', { key: c.key('resA'), role: 'researcher', name: 'Researcher A' }).code, 'OK')
    const r = consentToGrant(example(c, ex.name), { patient: c.key('pat'), validUntil: UNTIL(c) })
    if (!r.ok) { t.fail(JSON.stringify(r.outcome)); return }
    t.equal(c.run('pat', 'consent.grant', r.body).code, ex.chain ?? 'OK')
    for (const [who, category, purpose, expected] of ex.asks) {
      const d = checkAccess(c.state, { patient: c.key('pat'), requester: c.key(who), category, action: 'read', purpose, time: c.time })
      t.equal(`${d.permit ? 'permit' : 'deny'} ${d.reason}`, expected, `${who} reads ${category} for ${purpose}`)
    }
  })
}

t.test('each refused example names the element it cannot represent, in a valid OperationOutcome', async t => {
  const c = world()
  for (const [name, expression, reason] of REFUSED) {
    const r = consentToGrant(example(c, name), { patient: c.key('pat'), validUntil: UNTIL(c) })
    if (r.ok) { t.fail(`${name} imported: ${JSON.stringify(r.body)}`); continue }
    t.equal(r.outcome.issue[0].expression?.[0], expression, `${name}: ${expression}`)
    t.match(r.outcome.issue[0].diagnostics, reason, `${name}: reason`)
    t.same(fhirProblems(r.outcome), [], `${name}: OperationOutcome validates`)
  }
})

t.test('without an end the basic consent is refused (never a default end); a wrong patient is refused', async t => {
  const c = world()
  const noEnd = consentToGrant(example(c, 'consent-basic-treat'), { patient: c.key('pat') })
  t.equal(noEnd.ok, false)
  if (!noEnd.ok) t.same(noEnd.outcome.issue.map(i => i.expression?.[0]), ['Consent.provision.period.end'])
  const other = consentToGrant(example(c, 'consent-basic-treat'), { patient: c.key('pat2'), validUntil: UNTIL(c) })
  t.equal(other.ok, false)
  if (!other.ok) t.same(other.outcome.issue.map(i => i.expression?.[0]), ['Consent.patient', 'Consent.performer[0]'])
})
