import t from 'tap'
import { toHex } from '../../codec/index.js'
import { sealText } from '../../crypto/index.js'
import { consentToGrant, grantToConsent, auditEntryToEvent, type FhirConsent } from '../../fhir/index.js'
import {
  ACTIONS, CATEGORIES, auditTrail, checkAccess, getProvider, keys, listConsents,
  type Decision, type Grant, type Purpose, type TxBody
} from '../../ledger/index.js'
import { world, DAY, type Chain } from '../ledger/harness.js'
import { fhirProblems } from './validator.js'

type GrantBody = TxBody<'consent.grant'>

function grantOn (c: Chain, body: GrantBody): Grant {
  const tx = c.tx('pat', 'consent.grant', body)
  const r = c.block([tx]).results[0]
  if (r.code !== 'OK') throw new Error(`grant failed: ${r.code} ${r.log ?? ''}`)
  return c.state.get<Grant>(keys.consent(c.key('pat'), tx.id)) as Grant
}

const REQUESTERS = ['drA', 'drB', 'nurseB', 'res', 'er']
const PURPOSES: Purpose[] = ['TREAT', 'HRESCH', 'HPAYMT', 'ETREAT']

/** Every decision of the grid on chain `c`, without the grant id (which differs between chains). */
function decisions (c: Chain, times: number[]): string[] {
  const out: string[] = []
  for (const who of REQUESTERS) {
    for (const category of CATEGORIES) {
      for (const action of ACTIONS) {
        for (const purpose of PURPOSES) {
          for (const time of times) {
            const d: Decision = checkAccess(c.state, { patient: c.key('pat'), requester: c.key(who), category, action, purpose, time })
            out.push(`${who} ${category} ${action} ${purpose} ${time}: ${d.permit ? 'permit' : 'deny'} ${d.reason}`)
          }
        }
      }
    }
  }
  return out
}

// A table of grants: each grantee kind, `*` with and without named sensitive categories,
// exclusions (sensitive and not), both actions, several purposes, a future window.
const CASES: Array<{ name: string, body: (c: Chain) => GrantBody }> = [
  { name: 'one provider, labs, read, TREAT', body: c => ({ grantee: { type: 'provider', key: c.key('drA') }, categories: ['labs'], actions: ['read'], purposes: ['TREAT'], validFrom: c.time, validUntil: c.time + 90 * DAY }) },
  { name: 'org, * minus labs', body: c => ({ grantee: { type: 'org', member: 'beta' }, categories: ['*'], exclude: ['labs'], actions: ['read'], purposes: ['TREAT'], validFrom: c.time, validUntil: c.time + 30 * DAY }) },
  { name: 'role, * and mental_health and hiv, minus substance_use', body: c => ({ grantee: { type: 'role', role: 'physician' }, categories: ['*', 'hiv', 'mental_health'], exclude: ['substance_use'], actions: ['read', 'write'], purposes: ['HPAYMT', 'TREAT'], validFrom: c.time, validUntil: c.time + 10 * DAY }) },
  { name: 'researcher, every sensitive category, HRESCH', body: c => ({ grantee: { type: 'provider', key: c.key('res') }, categories: ['genomics', 'hiv', 'mental_health', 'sexual_reproductive', 'substance_use'], actions: ['read'], purposes: ['HRESCH'], validFrom: c.time, validUntil: c.time + DAY }) },
  { name: 'named non-sensitive with *, write only', body: c => ({ grantee: { type: 'org', member: 'alpha' }, categories: ['*', 'labs', 'vitals'], actions: ['write'], purposes: ['TREAT'], validFrom: c.time, validUntil: c.time + DAY }) },
  { name: 'not yet valid, odd ms bounds', body: c => ({ grantee: { type: 'role', role: 'nurse' }, categories: ['medications', 'vitals'], exclude: ['genomics'], actions: ['read'], purposes: ['CAREMGT', 'TREAT'], validFrom: c.time + 5 * DAY + 123, validUntil: c.time + 9 * DAY + 457 }) }
]

t.test('grant → FHIR Consent → import gives the same decisions (table of grants)', async t => {
  for (const k of CASES) {
    const a = world()
    const b = world()
    const grant = grantOn(a, k.body(a))
    const consent = grantToConsent(grant, a.time)
    t.same(fhirProblems(consent), [], `${k.name}: the exported Consent validates`)
    const back = consentToGrant(JSON.parse(JSON.stringify(consent)), { patient: a.key('pat') })
    if (!back.ok) { t.fail(`${k.name}: refused ${JSON.stringify(back.outcome)}`); continue }
    grantOn(b, back.body)
    t.equal(a.time, b.time, 'both chains at the same block time')
    const times = [a.time, grant.validFrom - 1, grant.validFrom, grant.validUntil - 1, grant.validUntil]
    const da = decisions(a, times)
    t.same(decisions(b, times), da, `${k.name}: same decisions`)
    t.ok(da.some(d => d.endsWith('permit CONSENT_GRANTED')) && da.some(d => d.includes('deny')), `${k.name}: the grid has permits and denies`)
  }
})

t.test('a revoked or expired grant is inactive; a current one active', async t => {
  const c = world()
  const g = grantOn(c, CASES[0].body(c))
  t.equal(grantToConsent(g, c.time).status, 'active')
  t.equal(grantToConsent(g, g.validUntil).status, 'inactive', 'expired')
  t.equal(c.run('pat', 'consent.revoke', { grantId: g.id }).code, 'OK')
  const revoked = listConsents(c.state, c.key('pat'), c.time)[0].grant
  const consent = grantToConsent(revoked, c.time)
  t.equal(consent.status, 'inactive')
  t.same(fhirProblems(consent), [])
})

t.test('exported Consent carries scope, patient, IRCP actor, v3 purpose, ActCode labels and a nested deny', async t => {
  const c = world()
  const g = grantOn(c, CASES[2].body(c))
  const consent: FhirConsent = grantToConsent(g, c.time)
  t.equal(consent.scope.coding?.[0].code, 'patient-privacy')
  t.equal(consent.patient?.reference, `Patient/${toHex(c.key('pat'))}`)
  const p = consent.provision!
  t.equal(p.type, 'permit')
  t.same(p.actor?.[0].reference, { type: 'PractitionerRole', identifier: { system: 'urn:medchain:role', value: 'physician' } })
  t.equal(p.actor?.[0].role.coding?.[0].code, 'IRCP')
  t.same(p.purpose?.map(x => `${x.system ?? ''}|${x.code ?? ''}`), ['http://terminology.hl7.org/CodeSystem/v3-ActReason|HPAYMT', 'http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT'])
  t.same(p.securityLabel?.map(x => x.code), ['N', 'HIV', 'MH', 'PSY'])
  t.same(p.provision?.[0].type, 'deny')
  t.same(p.provision?.[0].securityLabel?.map(x => x.code), ['SUD', 'ETH'])
  t.same(p.provision?.[0].code?.map(x => x.coding?.[0].code), ['substance_use'])
})

t.test('every trail entry exports as an AuditEvent that validates; reads point at their Consent; break-glass and refusals flagged', async t => {
  const c = world()
  const g = grantOn(c, CASES[0].body(c))
  const pat = c.key('pat')
  t.equal(c.run('drA', 'access.log', { patient: pat, category: 'labs', action: 'read', purpose: 'TREAT' }).code, 'OK')
  t.equal(c.run('drB', 'access.log', { patient: pat, category: 'labs', action: 'read', purpose: 'TREAT' }).code, 'OK')
  t.equal(c.run('er', 'access.break_glass', { patient: pat, purpose: 'ETREAT', reason: sealText('unconscious', [pat]), durationMs: 3600_000 }).code, 'OK')
  t.equal(c.run('er', 'access.log', { patient: pat, category: 'mental_health', action: 'read', purpose: 'ETREAT' }).code, 'OK')
  t.not(c.run('drB', 'access.break_glass', { patient: pat, purpose: 'ETREAT', reason: sealText('not an emergency role', [pat]), durationMs: 1000 }).code, 'OK')
  t.equal(c.run('pat', 'consent.revoke', { grantId: g.id }).code, 'OK')
  const trail = await auditTrail(c.reader, pat)
  const kind = (key: Uint8Array): 'provider' | 'other' => getProvider(c.state, key) === undefined ? 'other' : 'provider'
  const events = trail.map(e => auditEntryToEvent(pat, e, kind))
  for (const ev of events) t.same(fhirProblems(ev), [], `${String((ev.subtype as any[])[1].code)} validates`)
  t.equal(new Set(events.map(e => e.id)).size, events.length, 'ids are unique')
  const types = trail.map(e => e.type)
  t.same(types, ['patient.registered', 'consent.granted', 'access', 'access', 'access.break_glass', 'access', 'access.refused', 'consent.revoked'])
  const permitted = events[2] as any
  t.equal(permitted.action, 'R')
  t.equal(permitted.subtype[0].code, 'read')
  t.equal(permitted.outcome, '0')
  t.equal(permitted.agent[0].who.reference, `Practitioner/${toHex(c.key('drA'))}`)
  t.ok(permitted.entity.some((e: any) => e.what?.reference === `Consent/${toHex(g.id)}`), 'the permitted read points at its Consent')
  const denied = events[3] as any
  t.equal(denied.outcome, '8')
  t.equal(denied.outcomeDesc, 'NO_CONSENT')
  t.notOk(denied.entity.some((e: any) => e.what?.reference?.startsWith('Consent/')), 'a denied read points at no Consent')
  const opened = events[4] as any
  t.equal(opened.type.code, '110113')
  t.equal(opened.subtype[0].code, 'AuthZ-Consent')
  t.ok(opened.agent[0].purposeOfUse.some((p: any) => p.coding[0].code === 'BTG'), 'break-glass opening flagged BTG')
  const emergencyRead = events[5] as any
  t.equal(emergencyRead.outcome, '0')
  t.equal(emergencyRead.outcomeDesc, 'BREAK_GLASS')
  t.ok(emergencyRead.agent[0].purposeOfUse.some((p: any) => p.coding[0].code === 'BTG'), 'the break-glass read is flagged BTG')
  t.ok(emergencyRead.entity.some((e: any) => (e.securityLabel ?? []).some((l: any) => l.code === 'MH')), 'the mental-health read carries MH')
  const refused = events[6] as any
  t.equal(refused.subtype[0].code, 'AuthZ-Consent')
  t.equal(refused.outcome, '8')
  t.match(refused.outcomeDesc, /^refused access\.break_glass \(/)
  t.equal(events[0].action, 'C')
})
