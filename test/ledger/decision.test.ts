import t from 'tap'
import { checkAccess, type AccessQuery, type Decision, type TxBody } from '../../ledger/index.js'
import { sha256, sealText } from '../../crypto/index.js'
import { world, DAY, type Chain } from './harness.js'

type GrantBody = TxBody<'consent.grant'>

function grant (c: Chain, body: Partial<GrantBody>): Uint8Array {
  const full: GrantBody = {
    grantee: { type: 'provider', key: c.key('drA') },
    categories: ['labs'],
    actions: ['read'],
    purposes: ['TREAT'],
    validFrom: c.time,
    validUntil: c.time + 90 * DAY,
    ...body
  }
  const tx = c.tx('pat', 'consent.grant', full)
  const r = c.block([tx]).results[0]
  if (r.code !== 'OK') throw new Error(`grant failed: ${r.code} ${r.log ?? ''}`)
  return tx.id
}

function ask (c: Chain, who: string, q: Partial<AccessQuery> = {}): Decision {
  return checkAccess(c.state, { patient: c.key('pat'), requester: c.key(who), category: 'labs', action: 'read', purpose: 'TREAT', time: c.time, ...q })
}

function anchor (c: Chain, category: TxBody<'record.anchor'>['category'] = 'labs'): Uint8Array {
  const tx = c.tx('pat', 'record.anchor', { patient: c.key('pat'), category, hash: sha256(new Uint8Array([1])), locator: sealText('s3://x', [c.key('pat')]), purpose: 'PATRQT' })
  const r = c.block([tx]).results[0]
  if (r.code !== 'OK') throw new Error(r.code)
  return tx.id
}

t.test('D01 unknown patient is denied PATIENT_UNKNOWN', async t => {
  const c = world()
  t.same(ask(c, 'drA', { patient: c.key('nobody') }), { permit: false, reason: 'PATIENT_UNKNOWN' })
})

t.test('D02 a record not of this patient is RECORD_UNKNOWN', async t => {
  const c = world()
  grant(c, {})
  const rec = anchor(c)
  t.same(ask(c, 'drA', { category: undefined, record: sha256(new Uint8Array([9])) }), { permit: false, reason: 'RECORD_UNKNOWN' })
  t.same(ask(c, 'drA', { patient: c.key('pat2'), category: undefined, record: rec }), { permit: false, reason: 'RECORD_UNKNOWN' }, 'other patient\'s record')
  t.equal(ask(c, 'drA', { category: undefined, record: rec }).permit, true, 'control: the record itself is permitted')
})

t.test('D03 an erased record is never permitted again, to anyone', async t => {
  const c = world()
  grant(c, {})
  const rec = anchor(c)
  t.equal(c.run('er', 'access.break_glass', { patient: c.key('pat'), purpose: 'ETREAT', reason: sealText('collapse', [c.key('pat')]), durationMs: 3600_000 }).code, 'OK')
  t.equal(c.run('pat', 'record.erase', { patient: c.key('pat'), record: rec, purpose: 'PATRQT' }).code, 'OK')
  for (const who of ['drA', 'pat']) t.same(ask(c, who, { category: undefined, record: rec }), { permit: false, reason: 'RECORD_ERASED' }, who)
  t.same(ask(c, 'er', { category: undefined, record: rec, purpose: 'ETREAT' }), { permit: false, reason: 'RECORD_ERASED' }, 'break-glass too')
  t.same(ask(c, 'drA', { category: undefined, record: rec, time: c.time + 365 * DAY }), { permit: false, reason: 'RECORD_ERASED' })
  t.equal(c.run('pat', 'record.amend', { patient: c.key('pat'), record: rec, hash: sha256(new Uint8Array([2])), locator: sealText('y', [c.key('pat')]), purpose: 'PATRQT' }).code, 'RECORD_ERASED')
})

t.test('D04 the patient themself is permitted PATIENT_SELF', async t => {
  const c = world()
  t.same(ask(c, 'pat', { category: 'mental_health', action: 'write', purpose: 'PATRQT' }), { permit: true, reason: 'PATIENT_SELF' })
  t.same(ask(c, 'pat2'), { permit: false, reason: 'REQUESTER_UNKNOWN' }, 'another patient is not self')
})

t.test('D05 an unregistered requester is REQUESTER_UNKNOWN', async t => {
  const c = world()
  grant(c, { grantee: { type: 'role', role: 'physician' } })
  t.same(ask(c, 'stranger'), { permit: false, reason: 'REQUESTER_UNKNOWN' })
  t.same(ask(c, 'alpha'), { permit: false, reason: 'REQUESTER_UNKNOWN' }, 'a member key is not a provider')
})

t.test('D06 a suspended provider is denied everything', async t => {
  const c = world()
  grant(c, { categories: ['*', 'mental_health'], actions: ['read', 'write'], purposes: ['ETREAT', 'TREAT'] })
  t.equal(c.run('er', 'access.break_glass', { patient: c.key('pat'), purpose: 'ETREAT', reason: sealText('x', [c.key('pat')]), durationMs: 3600_000 }).code, 'OK')
  t.equal(ask(c, 'drA').permit, true, 'control: permitted before suspension')
  t.equal(c.run('alpha', 'provider.suspend', { key: c.key('drA'), reason: 'license' }).code, 'OK')
  t.equal(c.run('alpha', 'provider.suspend', { key: c.key('er') }).code, 'OK')
  t.same(ask(c, 'drA'), { permit: false, reason: 'PROVIDER_SUSPENDED' })
  t.same(ask(c, 'drA', { action: 'write' }), { permit: false, reason: 'PROVIDER_SUSPENDED' })
  t.same(ask(c, 'er', { purpose: 'ETREAT' }), { permit: false, reason: 'PROVIDER_SUSPENDED' }, 'break-glass window too')
  t.equal(c.run('alpha', 'provider.reinstate', { key: c.key('drA') }).code, 'OK')
  t.equal(ask(c, 'drA').permit, true, 'reinstated')
})

t.test('D07 a researcher gets only HRESCH reads', async t => {
  const c = world()
  grant(c, { grantee: { type: 'provider', key: c.key('res') }, actions: ['read', 'write'], purposes: ['HRESCH', 'TREAT'] })
  t.same(ask(c, 'res', { purpose: 'TREAT' }), { permit: false, reason: 'RESEARCH_PURPOSE_ONLY' })
  t.same(ask(c, 'res', { purpose: 'HRESCH', action: 'write' }), { permit: false, reason: 'RESEARCH_PURPOSE_ONLY' })
  t.equal(ask(c, 'res', { purpose: 'HRESCH' }).reason, 'CONSENT_GRANTED', 'control: HRESCH read permitted')
})

t.test('D08 break-glass: ETREAT read inside the window is permitted and flagged', async t => {
  const c = world()
  t.same(ask(c, 'er', { purpose: 'ETREAT', category: 'hiv' }), { permit: false, reason: 'NO_CONSENT' }, 'before the window')
  t.equal(c.run('er', 'access.break_glass', { patient: c.key('pat'), purpose: 'ETREAT', reason: sealText('unconscious', [c.key('pat')]), durationMs: 3600_000 }).code, 'OK')
  t.same(ask(c, 'er', { purpose: 'ETREAT', category: 'hiv' }), { permit: true, reason: 'BREAK_GLASS', breakGlass: true })
  t.same(ask(c, 'er', { purpose: 'TREAT' }), { permit: false, reason: 'NO_CONSENT' }, 'only ETREAT')
  t.same(ask(c, 'er', { purpose: 'ETREAT', action: 'write' }), { permit: false, reason: 'NO_CONSENT' }, 'only read')
  t.same(ask(c, 'er', { purpose: 'ETREAT', time: c.time + 3600_000 }), { permit: false, reason: 'NO_CONSENT' }, 'window closes')
  t.same(ask(c, 'drA', { purpose: 'ETREAT' }), { permit: false, reason: 'NO_CONSENT' }, 'only the provider who broke the glass')
})

t.test('D09 a grant to the provider key permits, with its id', async t => {
  const c = world()
  const id = grant(c, {})
  t.same(ask(c, 'drA'), { permit: true, reason: 'CONSENT_GRANTED', grantId: id })
  t.same(ask(c, 'drB'), { permit: false, reason: 'NO_CONSENT' })
})

t.test('D10 a grant to a member organisation permits its providers only', async t => {
  const c = world()
  const id = grant(c, { grantee: { type: 'org', member: 'beta' } })
  t.same(ask(c, 'nurseB'), { permit: true, reason: 'CONSENT_GRANTED', grantId: id })
  t.same(ask(c, 'drB'), { permit: true, reason: 'CONSENT_GRANTED', grantId: id })
  t.same(ask(c, 'drA'), { permit: false, reason: 'NO_CONSENT' }, 'alpha provider')
})

t.test('D11 a grant to a role permits providers of that role only', async t => {
  const c = world()
  const id = grant(c, { grantee: { type: 'role', role: 'nurse' } })
  t.same(ask(c, 'nurseB'), { permit: true, reason: 'CONSENT_GRANTED', grantId: id })
  t.same(ask(c, 'drB'), { permit: false, reason: 'NO_CONSENT' })
})

t.test('D12 revocation is immediate from its block', async t => {
  const c = world()
  const id = grant(c, {})
  const before = c.time
  const log = (): ReturnType<Chain['tx']> => c.tx('drA', 'access.log', { patient: c.key('pat'), category: 'labs', action: 'read', purpose: 'TREAT' })
  // access, revoke, access in one block: the second access is already denied
  const exec = c.block([log(), c.tx('pat', 'consent.revoke', { grantId: id }), log()])
  t.same(exec.results.map(r => r.code), ['OK', 'OK', 'OK'])
  t.same(exec.events.filter(e => e.type === 'access.logged').map(e => e.attributes.permit), [true, false])
  t.same(ask(c, 'drA'), { permit: false, reason: 'CONSENT_REVOKED' })
  t.equal(ask(c, 'drA', { time: before }).permit, true, 'history: permitted before the revocation')
  t.equal(c.run('pat', 'consent.revoke', { grantId: id }).code, 'GRANT_ALREADY_REVOKED')
})

t.test('D13 expiry needs no transaction', async t => {
  const c = world()
  grant(c, { validUntil: c.time + 90 * DAY })
  t.equal(ask(c, 'drA', { time: c.time + 89 * DAY }).permit, true)
  t.same(ask(c, 'drA', { time: c.time + 91 * DAY }), { permit: false, reason: 'CONSENT_EXPIRED' })
  c.block([], 91 * DAY)
  const r = c.run('drA', 'access.log', { patient: c.key('pat'), category: 'labs', action: 'read', purpose: 'TREAT' })
  t.same(r.events[0].attributes, { permit: false, reason: 'CONSENT_EXPIRED', purpose: 'TREAT', action: 'read' })
})

t.test('D14 a grant is not in force before validFrom', async t => {
  const c = world()
  grant(c, { validFrom: c.time + 10 * DAY, validUntil: c.time + 20 * DAY })
  t.same(ask(c, 'drA'), { permit: false, reason: 'CONSENT_NOT_YET_VALID' })
  t.equal(ask(c, 'drA', { time: c.time + 11 * DAY }).permit, true)
})

t.test('D15 sensitive categories are never covered by the wildcard', async t => {
  const c = world()
  grant(c, { categories: ['*'] })
  t.equal(ask(c, 'drA', { category: 'allergies' }).permit, true, 'control: non-sensitive under *')
  for (const cat of ['mental_health', 'substance_use', 'sexual_reproductive', 'genomics', 'hiv'] as const) {
    t.same(ask(c, 'drA', { category: cat }), { permit: false, reason: 'SENSITIVE_NOT_NAMED' }, cat)
  }
  grant(c, { categories: ['*', 'hiv'] })
  t.equal(ask(c, 'drA', { category: 'hiv' }).permit, true, 'named sensitive category')
})

t.test('D16 excluded categories are denied', async t => {
  const c = world()
  grant(c, { categories: ['*'], exclude: ['imaging'] })
  t.same(ask(c, 'drA', { category: 'imaging' }), { permit: false, reason: 'CATEGORY_EXCLUDED' })
  t.equal(ask(c, 'drA', { category: 'labs' }).permit, true)
})

t.test('D17 a category not in the grant is denied', async t => {
  const c = world()
  grant(c, { categories: ['labs'] })
  t.same(ask(c, 'drA', { category: 'imaging' }), { permit: false, reason: 'CATEGORY_NOT_GRANTED' })
})

t.test('D18 a purpose not in the grant is denied', async t => {
  const c = world()
  grant(c, { purposes: ['TREAT'] })
  t.same(ask(c, 'drA', { purpose: 'HPAYMT' }), { permit: false, reason: 'PURPOSE_NOT_GRANTED' })
})

t.test('D19 an action not in the grant is denied', async t => {
  const c = world()
  grant(c, { actions: ['read'] })
  t.same(ask(c, 'drA', { action: 'write' }), { permit: false, reason: 'ACTION_NOT_GRANTED' })
  const r = c.run('drA', 'record.anchor', { patient: c.key('pat'), category: 'labs', hash: sha256(new Uint8Array([3])), locator: sealText('x', [c.key('pat')]), purpose: 'TREAT' })
  t.same([r.code, r.log], ['WRITE_DENIED', 'ACTION_NOT_GRANTED'])
})

t.test('D20 no grant naming the requester is NO_CONSENT', async t => {
  const c = world()
  grant(c, { grantee: { type: 'provider', key: c.key('drB') } })
  t.same(ask(c, 'drA'), { permit: false, reason: 'NO_CONSENT' })
})

t.test('closest miss wins across grants, and any permitting grant permits', async t => {
  const c = world()
  const a = grant(c, { categories: ['imaging'] }) // CATEGORY_NOT_GRANTED for labs
  const b = grant(c, {})
  t.equal(c.run('pat', 'consent.revoke', { grantId: b }).code, 'OK')
  t.same(ask(c, 'drA'), { permit: false, reason: 'CONSENT_REVOKED' })
  const d = grant(c, { grantee: { type: 'org', member: 'alpha' } })
  t.same(ask(c, 'drA'), { permit: true, reason: 'CONSENT_GRANTED', grantId: d })
  t.ok(a)
})

t.test('an amendment does not widen access: category stays the record\'s', async t => {
  const c = world()
  grant(c, { categories: ['labs'], actions: ['read', 'write'] })
  const rec = anchor(c, 'mental_health')
  t.same(ask(c, 'drA', { category: undefined, record: rec }), { permit: false, reason: 'CATEGORY_NOT_GRANTED' })
  const r = c.run('drA', 'record.amend', { patient: c.key('pat'), record: rec, hash: sha256(new Uint8Array([5])), locator: sealText('labs/x', [c.key('pat')]), purpose: 'TREAT' })
  t.equal(r.code, 'WRITE_DENIED')
  t.equal(c.run('pat', 'record.amend', { patient: c.key('pat'), record: rec, hash: sha256(new Uint8Array([5])), locator: sealText('labs/x', [c.key('pat')]), purpose: 'PATRQT' }).code, 'OK')
  t.same(ask(c, 'drA', { category: undefined, record: rec }), { permit: false, reason: 'CATEGORY_NOT_GRANTED' }, 'still mental_health after amendment')
})
