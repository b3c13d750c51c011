import t from 'tap'
import { sha256, sealText, sealTo, openSealedText } from '../../crypto/index.js'
import { toHex, bytesEqual, utf8 } from '../../codec/index.js'
import {
  auditTrail, breakGlassEvents, getPatient, getPatientByKey, getProvider, listConsents, listRecords, pendingRequests, checkAccess,
  executeBlock, expectedNonce, decodeTx, buildTx, LedgerError, MAX_ACTIVE_GRANTS, MAX_PENDING_REQUESTS, type TxBody
} from '../../ledger/index.js'
import { world, Chain, DAY, CHAIN, seedOf } from './harness.js'

const h = (n: number): Uint8Array => sha256(new Uint8Array([n]))
const grantBody = (c: Chain, extra: Partial<TxBody<'consent.grant'>> = {}): TxBody<'consent.grant'> => ({
  grantee: { type: 'provider', key: c.key('drA') }, categories: ['labs'], actions: ['read', 'write'], purposes: ['TREAT'], validFrom: c.time, validUntil: c.time + 90 * DAY, ...extra
})

t.test('provider register / suspend / reinstate', async t => {
  const c = world()
  t.equal(c.run('alpha', 'provider.register', { key: c.key('new'), role: 'nurse', name: 'N' }).code, 'OK')
  t.same(getProvider(c.state, c.key('new'))?.org, 'alpha')
  t.equal(c.run('drA', 'provider.register', { key: c.key('x'), role: 'nurse', name: 'X' }).code, 'NOT_MEMBER')
  t.equal(c.run('beta', 'provider.register', { key: c.key('new'), role: 'nurse', name: 'N' }).code, 'PROVIDER_EXISTS')
  t.equal(c.run('beta', 'provider.register', { key: c.key('pat'), role: 'nurse', name: 'P' }).code, 'KEY_IN_USE')
  t.equal(c.run('beta', 'provider.register', { key: c.key('alpha'), role: 'nurse', name: 'A' }).code, 'KEY_IN_USE')
  t.equal(c.run('beta', 'provider.suspend', { key: c.key('new') }).code, 'NOT_AUTHORIZED', 'only the registering member')
  t.equal(c.run('alpha', 'provider.suspend', { key: c.key('ghost') }).code, 'PROVIDER_UNKNOWN')
  t.equal(c.run('alpha', 'provider.reinstate', { key: c.key('new') }).code, 'NOT_SUSPENDED')
  t.equal(c.run('alpha', 'provider.suspend', { key: c.key('new'), reason: 'audit' }).code, 'OK')
  t.equal(getProvider(c.state, c.key('new'))?.status, 'suspended')
  t.equal(getProvider(c.state, c.key('new'))?.suspended?.reason, 'audit')
  t.equal(c.run('alpha', 'provider.suspend', { key: c.key('new') }).code, 'ALREADY_SUSPENDED')
  t.equal(c.run('new', 'access.request', { patient: c.key('pat'), categories: ['labs'], actions: ['read'], purposes: ['TREAT'] }).code, 'PROVIDER_SUSPENDED')
  t.equal(c.run('alpha', 'provider.reinstate', { key: c.key('new') }).code, 'OK')
  t.equal(getProvider(c.state, c.key('new'))?.suspended, undefined)
})

t.test('patient register, key rotation', async t => {
  const c = world()
  t.equal(c.run('pat', 'patient.register', {}).code, 'PATIENT_EXISTS')
  t.equal(c.run('drA', 'patient.register', {}).code, 'KEY_IN_USE')
  t.equal(c.run('selfguard', 'patient.register', { guardians: [c.key('selfguard')], threshold: 1 }).code, 'BAD_GUARDIANS')
  t.equal(c.run('drA', 'patient.rotate_key', { newKey: c.key('x') }).code, 'NOT_PATIENT')
  t.equal(c.run('pat', 'consent.grant', grantBody(c)).code, 'OK')
  t.equal(c.run('pat', 'patient.rotate_key', { newKey: c.key('drB') }).code, 'KEY_IN_USE')
  t.equal(c.run('pat', 'patient.rotate_key', { newKey: c.key('pat-new') }).code, 'OK')
  const p = getPatient(c.state, c.key('pat'))
  t.ok(p !== undefined && bytesEqual(p.key, c.key('pat-new')) && bytesEqual(p.id, c.key('pat')), 'id stays, key changes')
  t.ok(getPatientByKey(c.state, c.key('pat-new')) !== undefined)
  t.equal(getPatientByKey(c.state, c.key('pat')), undefined)
  t.equal(c.run('pat', 'consent.grant', grantBody(c)).code, 'NOT_PATIENT', 'old key is dead')
  t.equal(c.run('pat-new', 'consent.grant', grantBody(c)).code, 'OK', 'new key acts for the same patient')
  t.equal(listConsents(c.state, c.key('pat'), c.time).length, 2, 'consents survive rotation')
  t.same(checkAccess(c.state, { patient: c.key('pat'), requester: c.key('pat-new'), category: 'hiv', action: 'read', purpose: 'PATRQT', time: c.time }).reason, 'PATIENT_SELF')
})

t.test('k-of-n guardian recovery', async t => {
  const c = world()
  const patient = c.key('pat')
  t.equal(c.run('g4', 'patient.recover', { patient, newKey: c.key('rec') }).code, 'NOT_GUARDIAN')
  t.equal(c.run('g1', 'patient.recover', { patient: c.key('pat2'), newKey: c.key('rec') }).code, 'NOT_GUARDIAN', 'pat2 has no guardians')
  t.equal(c.run('g1', 'patient.recover', { patient: c.key('nobody'), newKey: c.key('rec') }).code, 'PATIENT_UNKNOWN')
  t.equal(c.run('g1', 'patient.recover', { patient, newKey: c.key('drA') }).code, 'KEY_IN_USE')
  let r = c.run('g1', 'patient.recover', { patient, newKey: c.key('rec') })
  t.same([r.code, r.events.map(e => e.type)], ['OK', ['patient.recovery_approved']])
  r = c.run('g1', 'patient.recover', { patient, newKey: c.key('rec') })
  t.same(r.events.map(e => e.attributes.approvals), [1], 'the same guardian twice counts once')
  t.ok(bytesEqual(getPatient(c.state, patient)!.key, patient), 'not yet rotated')
  r = c.run('g2', 'patient.recover', { patient, newKey: c.key('other') })
  t.same(r.events.map(e => e.type), ['patient.recovery_approved'], 'approvals for different keys do not add up')
  r = c.run('g2', 'patient.recover', { patient, newKey: c.key('rec') })
  t.same(r.events.map(e => e.type), ['patient.recovery_approved', 'patient.key_rotated'])
  t.ok(bytesEqual(getPatient(c.state, patient)!.key, c.key('rec')), 'rotated at threshold 2')
  t.equal(c.state.get(`recovery/${toHex(patient)}`), undefined, 'recovery state cleared')
  t.equal(c.run('rec', 'consent.grant', grantBody(c)).code, 'OK')
  t.equal(c.run('pat', 'consent.grant', grantBody(c)).code, 'NOT_PATIENT')
})

t.test('consent grant and revoke failures; listing with status', async t => {
  const c = world()
  t.equal(c.run('drA', 'consent.grant', grantBody(c)).code, 'NOT_PATIENT')
  t.equal(c.run('pat', 'consent.grant', grantBody(c, { validFrom: c.time + 10, validUntil: c.time + 10 })).code, 'BAD_WINDOW')
  t.equal(c.run('pat', 'consent.grant', grantBody(c, { validFrom: 0, validUntil: c.time - 1 })).code, 'BAD_WINDOW', 'already expired')
  t.equal(c.run('pat', 'consent.grant', grantBody(c, { validUntil: c.time + 11 * 366 * DAY })).code, 'BAD_WINDOW', 'too long')
  t.equal(c.run('pat', 'consent.grant', grantBody(c, { grantee: { type: 'provider', key: c.key('ghost') } })).code, 'GRANTEE_UNKNOWN')
  t.equal(c.run('pat', 'consent.grant', grantBody(c, { grantee: { type: 'org', member: 'gamma' } })).code, 'GRANTEE_UNKNOWN')
  t.equal(c.run('pat', 'consent.grant', grantBody(c, { request: h(1) })).code, 'REQUEST_UNKNOWN')
  t.equal(c.run('pat', 'consent.revoke', { grantId: h(1) }).code, 'GRANT_UNKNOWN')
  const g = c.tx('pat', 'consent.grant', grantBody(c, { validUntil: c.time + 5 * DAY }))
  c.block([g])
  t.equal(c.run('pat2', 'consent.revoke', { grantId: g.id }).code, 'GRANT_UNKNOWN', 'another patient can not revoke it')
  const g2 = c.tx('pat', 'consent.grant', grantBody(c))
  c.block([g2, c.tx('pat', 'consent.revoke', { grantId: g2.id })])
  const list = listConsents(c.state, c.key('pat'), c.time)
  t.same(list.map(v => v.status), ['active', 'revoked'])
  t.same(listConsents(c.state, c.key('pat'), c.time + 6 * DAY).map(v => v.status), ['expired', 'revoked'])
  // bound on active grants; rejected grants do not change state
  const many = []
  for (let i = 0; i < MAX_ACTIVE_GRANTS; i++) many.push(c.tx('pat', 'consent.grant', grantBody(c, { validUntil: c.time + DAY + i })))
  const exec = c.block(many)
  t.equal(exec.results.filter(r => r.code === 'TOO_MANY_GRANTS').length, 1, 'the 65th active grant is refused')
  t.equal(listConsents(c.state, c.key('pat'), c.time).filter(v => v.status === 'active').length, MAX_ACTIVE_GRANTS)
})

t.test('access request → patient answers with a grant', async t => {
  const c = world()
  const req = c.tx('drB', 'access.request', { patient: c.key('pat'), categories: ['imaging'], actions: ['read'], purposes: ['TREAT'], note: sealText('referral', [c.key('pat')]) })
  const r = c.block([req]).results[0]
  t.equal(r.code, 'OK')
  t.same(r.events.map(e => [e.type, e.patient]), [['access.requested', toHex(c.key('pat'))]], 'the patient is notified')
  t.same(pendingRequests(c.state, c.key('pat'), c.time).map(x => toHex(x.id)), [req.idHex])
  t.same(pendingRequests(c.state, c.key('pat'), c.time + 31 * DAY), [], 'requests expire')
  t.equal(c.run('stranger', 'access.request', { patient: c.key('pat'), categories: ['labs'], actions: ['read'], purposes: ['TREAT'] }).code, 'NOT_PROVIDER')
  t.equal(c.run('drB', 'access.request', { patient: c.key('nobody'), categories: ['labs'], actions: ['read'], purposes: ['TREAT'] }).code, 'PATIENT_UNKNOWN')
  t.equal(c.run('pat', 'consent.grant', grantBody(c, { grantee: { type: 'provider', key: c.key('drB') }, categories: ['imaging'], request: req.id })).code, 'OK')
  t.same(pendingRequests(c.state, c.key('pat'), c.time), [], 'answered')
  t.equal(checkAccess(c.state, { patient: c.key('pat'), requester: c.key('drB'), category: 'imaging', action: 'read', purpose: 'TREAT', time: c.time }).permit, true)
  const flood = []
  for (let i = 0; i <= MAX_PENDING_REQUESTS; i++) flood.push(c.tx('nurseB', 'access.request', { patient: c.key('pat'), categories: ['labs'], actions: ['read'], purposes: ['TREAT'], note: sealText(String(i), [c.key('pat')]) }))
  t.same(c.block(flood).results.map(x => x.code).filter(x => x !== 'OK'), ['TOO_MANY_REQUESTS'])
})

t.test('access log records permit and deny; audit trail in order', async t => {
  const c = world()
  const log = { patient: c.key('pat'), category: 'labs' as const, action: 'read' as const, purpose: 'TREAT' as const }
  t.equal(c.run('drA', 'access.log', log).events[0].attributes.permit, false)
  const g = c.tx('pat', 'consent.grant', grantBody(c))
  c.block([g])
  t.same(c.run('drA', 'access.log', log).events[0].attributes, { permit: true, reason: 'CONSENT_GRANTED', purpose: 'TREAT', action: 'read' })
  t.equal(c.run('stranger', 'access.log', log).code, 'NOT_PROVIDER', 'strangers can not write to the log')
  t.equal(c.run('drA', 'access.log', { ...log, patient: c.key('nobody') }).code, 'PATIENT_UNKNOWN')
  c.run('alpha', 'provider.suspend', { key: c.key('drA') })
  t.same(c.run('drA', 'access.log', log), { code: 'PROVIDER_SUSPENDED', events: [] }, 'a suspended provider writes nothing (W04)')
  const trail = await auditTrail(c.reader, c.key('pat'))
  t.same(trail.map(e => [e.type, e.permit, e.reason]), [
    ['patient.registered', undefined, undefined],
    ['access', false, 'NO_CONSENT'],
    ['consent.granted', undefined, undefined],
    ['access', true, 'CONSENT_GRANTED']
  ])
  t.ok(bytesEqual(trail[3].grantId!, g.id))
  t.ok(bytesEqual(trail[1].actor, c.key('drA')))
  t.equal((await auditTrail(c.reader, c.key('pat'), { limit: 2 })).length, 2)
  t.same((await auditTrail(c.reader, c.key('pat2'))).map(e => e.type), ['patient.registered'], 'trails are per patient')
})

t.test('break-glass: roles, purpose, window; flagged and listed', async t => {
  const c = world()
  const body = { patient: c.key('pat'), purpose: 'ETREAT' as const, reason: sealText('unconscious in ER', [c.key('pat')]), durationMs: 3600_000 }
  t.equal(c.run('drA', 'access.break_glass', body).code, 'NOT_EMERGENCY_ROLE')
  t.equal(c.run('stranger', 'access.break_glass', body).code, 'NOT_PROVIDER')
  t.equal(c.run('er', 'access.break_glass', { ...body, purpose: 'TREAT' }).code, 'BREAK_GLASS_PURPOSE')
  t.equal(c.run('er', 'access.break_glass', { ...body, durationMs: 0 }).code, 'BAD_WINDOW')
  t.equal(c.run('er', 'access.break_glass', { ...body, durationMs: 4 * 3600_000 + 1 }).code, 'BAD_WINDOW')
  t.equal(c.run('er', 'access.break_glass', { ...body, patient: c.key('nobody') }).code, 'PATIENT_UNKNOWN')
  const r = c.run('er', 'access.break_glass', body)
  t.equal(r.code, 'OK')
  t.same(r.events.map(e => [e.type, e.patient, e.attributes.breakGlass]), [['access.break_glass', toHex(c.key('pat')), true]])
  const log = c.run('er', 'access.log', { patient: c.key('pat'), category: 'mental_health', action: 'read', purpose: 'ETREAT' })
  t.same(log.events[0].attributes, { permit: true, reason: 'BREAK_GLASS', purpose: 'ETREAT', action: 'read', breakGlass: true })
  const events = breakGlassEvents(c.state, c.key('pat'))
  t.equal(events.length, 1)
  t.same([openSealedText(events[0].reason, seedOf('pat')), events[0].org, events[0].until - events[0].from], ['unconscious in ER', 'alpha', 3600_000])
  const trail = await auditTrail(c.reader, c.key('pat'))
  t.same(trail.filter(e => e.breakGlass === true).map(e => e.type), ['access.break_glass', 'access'])
  t.same(breakGlassEvents(c.state, c.key('pat2')), [])
})

t.test('records: anchor, amend, erase with write consent or by the patient', async t => {
  const c = world()
  const anchor = (who: string, n: number): ReturnType<Chain['tx']> => c.tx(who, 'record.anchor', { patient: c.key('pat'), category: 'labs', hash: h(n), locator: sealText(`s3://b/${n}`, [c.key('pat')]), purpose: 'TREAT' })
  let tx = anchor('drA', 1)
  t.same(c.block([tx]).results.map(r => [r.code, r.log]), [['WRITE_DENIED', 'NO_CONSENT']])
  c.run('pat', 'consent.grant', grantBody(c, { actions: ['read'] }))
  t.same(c.block([anchor('drA', 2)]).results.map(r => r.log), ['ACTION_NOT_GRANTED'])
  c.run('pat', 'consent.grant', grantBody(c, { actions: ['write'] }))
  tx = anchor('drA', 3)
  t.equal(c.block([tx]).results[0].code, 'OK')
  const own = anchor('pat', 4)
  t.equal(c.block([own]).results[0].code, 'OK', 'the patient anchors their own record')
  t.equal(c.run('drB', 'record.amend', { patient: c.key('pat'), record: tx.id, hash: h(5), locator: sealText('x', [c.key('pat')]), purpose: 'TREAT' }).code, 'WRITE_DENIED')
  t.equal(c.run('drA', 'record.amend', { patient: c.key('pat'), record: h(9), hash: h(5), locator: sealText('x', [c.key('pat')]), purpose: 'TREAT' }).code, 'RECORD_UNKNOWN')
  const am = c.tx('drA', 'record.amend', { patient: c.key('pat'), record: tx.id, hash: h(6), locator: sealText('s3://b/6', [c.key('pat')]), purpose: 'TREAT' })
  t.equal(c.block([am]).results[0].code, 'OK')
  const recs = listRecords(c.state, c.key('pat'))
  t.same(recs.map(r => [toHex(r.id), r.amendments.length]), [[tx.idHex, 1], [own.idHex, 0]])
  t.ok(bytesEqual(recs[0].amendments[0].id, am.id) && bytesEqual(recs[0].hash, h(3)), 'original hash kept, amendment appended')
  t.equal(c.run('drB', 'record.erase', { patient: c.key('pat'), record: tx.id, purpose: 'TREAT' }).code, 'WRITE_DENIED')
  t.equal(c.run('drA', 'record.erase', { patient: c.key('pat'), record: tx.id, purpose: 'TREAT' }).code, 'OK')
  t.equal(c.run('pat', 'record.erase', { patient: c.key('pat'), record: tx.id, purpose: 'PATRQT' }).code, 'RECORD_ERASED')
  const erased = listRecords(c.state, c.key('pat'))[0]
  t.ok(erased.erased !== undefined && bytesEqual(erased.hash, h(3)), 'erased, hash stays')
  t.equal(c.run('drA', 'record.anchor', { patient: c.key('nobody'), category: 'labs', hash: h(7), locator: sealText('x', [c.key('nobody')]), purpose: 'TREAT' }).code, 'PATIENT_UNKNOWN')
  const types = (await auditTrail(c.reader, c.key('pat'))).map(e => e.type).filter(x => x.startsWith('record'))
  t.same(types, ['record.anchored', 'record.anchored', 'record.amended', 'record.erased'])
})

t.test('replay protection and nonce rules', async t => {
  const c = world()
  const g = c.tx('pat', 'consent.grant', grantBody(c))
  t.same(c.block([g, g]).results.map(r => r.code), ['OK', 'DUPLICATE_TX'], 'same tx twice in a block')
  t.same(c.block([g]).results.map(r => r.code), ['BAD_NONCE'], 'replayed in a later block')
  t.equal(listConsents(c.state, c.key('pat'), c.time).length, 1)
  // a failing tx consumes its nonce, so it can never be replayed to succeed later
  const bad = c.tx('pat', 'consent.revoke', { grantId: h(1) })
  t.same(c.block([bad]).results.map(r => r.code), ['GRANT_UNKNOWN'])
  t.equal(expectedNonce(c.state, c.key('pat')), 3, 'register, grant, failed revoke')
  t.same(c.block([bad]).results.map(r => r.code), ['BAD_NONCE'])
  // a future nonce is refused and consumes nothing
  const future = c.tx('pat', 'consent.grant', grantBody(c), 7)
  t.same(c.block([future]).results.map(r => [r.code, r.log]), [['BAD_NONCE', 'expected nonce 3, got 7']])
  t.equal(expectedNonce(c.state, c.key('pat')), 3)
  // strictly sequential within one block
  const a = c.tx('pat2', 'consent.grant', grantBody(c), 2)
  const b = c.tx('pat2', 'consent.grant', grantBody(c), 3)
  const z = c.tx('pat2', 'consent.grant', grantBody(c), 1)
  t.same(c.block([a, z, b]).results.map(r => r.code), ['BAD_NONCE', 'OK', 'BAD_NONCE'])
  t.same(c.block([a, b]).results.map(r => r.code), ['OK', 'OK'], 'in order they pass')
  // a tx of another chain decoded for that chain is refused by this state
  const foreign = decodeTx(buildTx('patient.register', {}, { chainId: 'other', signer: c.signer('zed'), nonce: 0 }).bytes, 'other')
  t.same(c.block([foreign]).results.map(r => r.code), ['WRONG_CHAIN'])
})

t.test('executeBlock does not mutate state; apply refuses a stale execution', async t => {
  const c = world()
  const root = c.state.stateRoot
  const size = c.state.size
  const exec = executeBlock(c.state, { height: c.height + 1, time: c.time + 1, proposer: c.key('alpha') }, [c.tx('pat', 'consent.grant', grantBody(c))])
  t.equal(exec.results[0].code, 'OK')
  t.ok(bytesEqual(c.state.stateRoot, root) && c.state.size === size, 'state untouched')
  t.same(listConsents(c.state, c.key('pat'), c.time), [])
  t.same(exec.writes.map(w => w[0]), [...exec.writes.map(w => w[0])].sort(), 'writes sorted by key')
  t.ok(exec.appends.every(([k]) => k.startsWith('audit/')))
  c.state.apply(exec)
  t.equal(listConsents(c.state, c.key('pat'), c.time).length, 1)
  try { c.state.apply(exec); t.fail('applied twice') } catch (err) { t.equal((err as LedgerError).code, 'STATE_MISMATCH') }
  const empty = executeBlock(c.state, { height: c.height + 2, time: c.time + 2, proposer: c.key('alpha') }, [])
  t.ok(bytesEqual(empty.stateRoot, c.state.stateRoot), 'an empty block keeps the root')
  t.equal(CHAIN, 'medchain-test')
})

/** Whether `needle` occurs in `hay` (bytewise). */
function contains (hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).indexOf(Buffer.from(needle)) !== -1
}

t.test('free text is sealed: a break-glass tx carries boxes, the clear reason is in no tx, state or trail bytes', async t => {
  const c = world()
  const reason = 'unconscious after a fall, suspected opioid overdose'
  // As the CLI seals it: to the patient and to the emergency physician's organisation (alpha).
  const tx = c.tx('er', 'access.break_glass', { patient: c.key('pat'), purpose: 'ETREAT', reason: sealText(reason, [c.key('pat'), c.key('alpha')]), durationMs: 3600_000 })
  t.notOk(contains(tx.bytes, utf8(reason)), 'the signed transaction does not contain the reason')
  t.notOk(contains(tx.bytes, utf8('opioid')), 'nor a word of it')
  const exec = c.block([tx])
  t.equal(exec.results[0].code, 'OK')
  const stored = [...exec.writes.map(([, v]) => v).filter((v): v is Uint8Array => v !== null), ...exec.appends.map(([, v]) => v)]
  t.ok(stored.length > 0)
  t.notOk(stored.some(v => contains(v, utf8('opioid'))), 'no state write or trail append holds it')
  t.notOk(contains(new TextEncoder().encode(JSON.stringify(exec.results)), utf8('opioid')), 'nor the results')
  const [event] = breakGlassEvents(c.state, c.key('pat'))
  t.same(event.reason.sealed.map(b => toHex(b.to)), [toHex(c.key('pat')), toHex(c.key('alpha'))].sort(), 'one box each for the patient and the organisation')
  t.equal(openSealedText(event.reason, seedOf('pat')), reason, 'the patient opens it')
  t.equal(openSealedText(event.reason, seedOf('alpha')), reason, 'the organisation opens it')
  t.equal(openSealedText(event.reason, seedOf('beta')), null, 'another member cannot')
  t.equal(openSealedText(event.reason, seedOf('er')), null, 'nor the writer itself (it was not sealed to it)')
})

t.test('free text in clear, or sealed out of shape, is refused at decode with the field and the value', async t => {
  const c = world()
  const base = { patient: c.key('pat'), purpose: 'ETREAT' as const, durationMs: 3600_000 }
  const refusal = (reason: unknown): unknown => {
    try { c.tx('er', 'access.break_glass', { ...base, reason } as never); return 'accepted' } catch (err) { return `${(err as LedgerError).code} ${(err as Error).message}` }
  }
  t.match(refusal('in clear'), 'TX_MALFORMED CODEC_WRONG_TYPE: tx.body.reason', 'plain text')
  const two = sealText('x', [c.key('pat'), c.key('alpha')])
  t.match(refusal({ sealed: [...two.sealed].reverse() }), 'TX_NON_CANONICAL CODEC_NON_CANONICAL: tx.body.reason.sealed[1].to', 'boxes out of order')
  t.match(refusal({ sealed: [two.sealed[0], two.sealed[0]] }), 'TX_NON_CANONICAL CODEC_NON_CANONICAL: tx.body.reason.sealed[1].to', 'one recipient twice')
  t.match(refusal({ sealed: [] }), 'TX_MALFORMED CODEC_OUT_OF_RANGE: tx.body.reason.sealed', 'no recipient')
  t.match(refusal({ sealed: [{ to: c.key('pat'), box: two.sealed[0].box.subarray(1) }] }), 'TX_MALFORMED CODEC_OUT_OF_RANGE: tx.body.reason.sealed[0].box', 'a box not padded to a block')
  t.match(refusal({ sealed: [{ to: c.key('pat'), box: sealTo(c.key('pat'), utf8('x'.repeat(544))) }] }), 'TX_MALFORMED CODEC_OUT_OF_RANGE: tx.body.reason.sealed[0].box', 'more text than 512 bytes padded to a block (544)')
  t.match(refusal({ sealed: [{ to: new Uint8Array(32), box: two.sealed[0].box }] }), 'TX_BAD_KEY tx.body.reason.sealed[0].to is not an acceptable ed25519 public key (small_order)', 'a recipient that is not a key')
  t.match(refusal({ sealed: [{ ...two.sealed[0], extra: 1 }] }), 'TX_MALFORMED CODEC_UNKNOWN_FIELD: tx.body.reason.sealed[0]', 'closed shape')
  const lengths = { sealed: [two.sealed[0], { to: two.sealed[1].to, box: sealTo(two.sealed[1].to, utf8('y'.repeat(40))) }] }
  t.match(refusal(lengths), 'TX_MALFORMED CODEC_OUT_OF_RANGE: tx.body.reason.sealed[1].box', 'boxes of different lengths')
  t.equal(refusal(sealText('x'.repeat(512), [c.key('pat')])), 'accepted', 'control: 512 bytes sealed to the patient')
})
