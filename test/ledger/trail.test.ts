// Who may write a patient's audit trail (rows W01..W08 of docs/decision-table.md), and
// refused access attempts recorded in the trail flagged `refused` (issue 10, items 3 and 4).
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { sha256 } from '../../crypto/index.js'
import { bytesEqual, decode, toHex } from '../../codec/index.js'
import { auditTrail, breakGlassEvents, decodeResultLeaf, encodeResultLeaf, expectedNonce, listRecords, resultsRoot, type AuditEntry, type TxBody, type TxResult } from '../../ledger/index.js'
import { toJson } from '../../node/json.js'
import { world, DAY, type Chain } from './harness.js'

const h = (n: number): Uint8Array => sha256(new Uint8Array([n]))
type Entry = AuditEntry & { key: string }
const trail = async (c: Chain, patient = 'pat'): Promise<Entry[]> => await auditTrail(c.reader, c.key(patient))
const grantBody = (c: Chain, extra: Partial<TxBody<'consent.grant'>> = {}): TxBody<'consent.grant'> => ({
  grantee: { type: 'provider', key: c.key('drA') }, categories: ['labs'], actions: ['read'], purposes: ['TREAT'], validFrom: c.time, validUntil: c.time + 90 * DAY, ...extra
})
const logBody = (c: Chain, patient = 'pat'): TxBody<'access.log'> => ({ patient: c.key(patient), category: 'labs', action: 'read', purpose: 'TREAT' })

/** Runs one tx that must be refused with `code` and leave `patient`'s trail and the events untouched. */
async function refusedUnrecorded (t: Test, c: Chain, who: string, run: () => TxResult, code: string, patient = 'pat'): Promise<void> {
  const before = (await trail(c, patient)).length
  const nonce = expectedNonce(c.state, c.key(who))
  const r = run()
  t.equal(r.code, code, `${who}: ${code}`)
  t.equal(expectedNonce(c.state, c.key(who)), nonce + 1, `${who}: the tx executed (nonce consumed)`)
  t.same(r.events, [], `${who}: no event, so no notification`)
  t.equal((await trail(c, patient)).length, before, `${who}: nothing reached the trail`)
}

t.test('W01 an unregistered patient has no trail: PATIENT_UNKNOWN', async t => {
  const c = world()
  t.equal(c.run('drA', 'access.log', logBody(c, 'nobody')).code, 'PATIENT_UNKNOWN')
  t.equal(c.run('drA', 'record.anchor', { patient: c.key('nobody'), category: 'labs', hash: h(1), locator: 'x', purpose: 'TREAT' }).code, 'PATIENT_UNKNOWN')
  t.same(await trail(c, 'nobody'), [])
})

t.test('W02 a patient writes their own trail, and only their own', async t => {
  const c = world()
  const own = c.run('pat2', 'access.log', logBody(c, 'pat2'))
  t.same([own.code, own.events[0].attributes.reason], ['OK', 'PATIENT_SELF'])
  t.same((await trail(c, 'pat2')).map(e => [e.type, e.reason]), [['patient.registered', undefined], ['access', 'PATIENT_SELF']])
  await refusedUnrecorded(t, c, 'pat2', () => c.run('pat2', 'access.log', logBody(c)), 'NOT_PROVIDER')
  // After a rotation the new key is the patient; the former key is nobody.
  t.equal(c.run('pat', 'patient.rotate_key', { newKey: c.key('patNew') }).code, 'OK')
  t.equal(c.run('patNew', 'access.log', logBody(c)).events[0].attributes.reason, 'PATIENT_SELF')
  await refusedUnrecorded(t, c, 'pat', () => c.run('pat', 'access.log', logBody(c)), 'NOT_PROVIDER')
})

t.test('W03 a key that is neither the patient nor a provider is refused before the trail', async t => {
  const c = world()
  // The attack: register a patient key for free, then write "deny" entries into someone else's trail.
  t.equal(c.run('mallory', 'patient.register', {}).code, 'OK')
  await refusedUnrecorded(t, c, 'mallory', () => c.run('mallory', 'access.log', logBody(c)), 'NOT_PROVIDER')
  await refusedUnrecorded(t, c, 'mallory', () => c.run('mallory', 'access.log', { patient: c.key('pat'), record: h(1), action: 'read', purpose: 'TREAT' }), 'NOT_PROVIDER')
  await refusedUnrecorded(t, c, 'alpha', () => c.run('alpha', 'access.log', logBody(c)), 'NOT_PROVIDER') // a member key
  await refusedUnrecorded(t, c, 'g1', () => c.run('g1', 'access.log', logBody(c)), 'NOT_PROVIDER') // a guardian reads nothing
  await refusedUnrecorded(t, c, 'stranger', () => c.run('stranger', 'access.log', logBody(c)), 'NOT_PROVIDER')
})

t.test('W04 a suspended provider writes nothing into any trail', async t => {
  const c = world()
  t.equal(c.run('pat', 'consent.grant', grantBody(c)).code, 'OK')
  t.equal(c.run('alpha', 'provider.suspend', { key: c.key('drA'), reason: 'key lost' }).code, 'OK')
  t.equal(c.run('alpha', 'provider.suspend', { key: c.key('er') }).code, 'OK')
  await refusedUnrecorded(t, c, 'drA', () => c.run('drA', 'access.log', logBody(c)), 'PROVIDER_SUSPENDED')
  await refusedUnrecorded(t, c, 'er', () => c.run('er', 'access.break_glass', { patient: c.key('pat'), purpose: 'ETREAT', reason: 'x', durationMs: 60_000 }), 'PROVIDER_SUSPENDED')
  await refusedUnrecorded(t, c, 'drA', () => c.run('drA', 'record.anchor', { patient: c.key('pat'), category: 'labs', hash: h(1), locator: 'x', purpose: 'TREAT' }), 'WRITE_DENIED')
  t.equal(c.run('alpha', 'provider.reinstate', { key: c.key('drA') }).code, 'OK')
  t.equal(c.run('drA', 'access.log', logBody(c)).events[0].attributes.reason, 'CONSENT_GRANTED', 'control: reinstated, recorded again')
})

t.test('W05 an active provider of any role is recorded, permit or deny', async t => {
  const c = world()
  t.equal(c.run('alpha', 'provider.register', { key: c.key('adm'), role: 'admin', name: 'Admin' }).code, 'OK')
  t.equal(c.run('pat', 'consent.grant', grantBody(c, { grantee: { type: 'provider', key: c.key('res') }, purposes: ['HRESCH'] })).code, 'OK')
  const before = (await trail(c)).length
  const reasons = [
    c.run('drA', 'access.log', logBody(c)),
    c.run('adm', 'access.log', logBody(c)),
    c.run('res', 'access.log', logBody(c)),
    c.run('res', 'access.log', { ...logBody(c), purpose: 'HRESCH' })
  ].map(r => [r.code, r.events[0]?.attributes.reason])
  t.same(reasons, [['OK', 'NO_CONSENT'], ['OK', 'NO_CONSENT'], ['OK', 'RESEARCH_PURPOSE_ONLY'], ['OK', 'CONSENT_GRANTED']])
  const added = (await trail(c)).slice(before)
  t.same(added.map(e => [toHex(e.actor), e.type, e.permit, e.reason]), [
    [toHex(c.key('drA')), 'access', false, 'NO_CONSENT'],
    [toHex(c.key('adm')), 'access', false, 'NO_CONSENT'],
    [toHex(c.key('res')), 'access', false, 'RESEARCH_PURPOSE_ONLY'],
    [toHex(c.key('res')), 'access', true, 'CONSENT_GRANTED']
  ])
})

t.test('W06 a guardian\'s recovery approval is recorded; anyone else\'s is refused unrecorded', async t => {
  const c = world()
  await refusedUnrecorded(t, c, 'g4', () => c.run('g4', 'patient.recover', { patient: c.key('pat'), newKey: c.key('rec') }), 'NOT_GUARDIAN')
  t.equal(c.run('g1', 'patient.recover', { patient: c.key('pat'), newKey: c.key('rec') }).code, 'OK')
  t.same((await trail(c)).map(e => [e.type, toHex(e.actor)]).at(-1), ['patient.recovery_approved', toHex(c.key('g1'))])
})

t.test('W07 a refused break-glass is recorded flagged refused: who, what, purpose, why; nothing else applies', async t => {
  const c = world()
  const body = { patient: c.key('pat'), purpose: 'ETREAT' as const, reason: 'unconscious', durationMs: 3600_000 }
  const before = (await trail(c)).length
  const tx = c.tx('drA', 'access.break_glass', body)
  const r = c.block([tx]).results[0]
  t.same([r.code, r.log], ['NOT_EMERGENCY_ROLE', 'physician'])
  t.same(r.events.map(e => [e.type, e.patient, e.attributes]), [['access.refused', toHex(c.key('pat')), { kind: 'access.break_glass', code: 'NOT_EMERGENCY_ROLE', reason: 'NOT_EMERGENCY_ROLE', purpose: 'ETREAT' }]],
    'the patient is notified of the attempt')
  t.same(breakGlassEvents(c.state, c.key('pat')), [], 'no break-glass event')
  t.equal(c.state.get(`bgwindow/${toHex(c.key('pat'))}/${toHex(c.key('drA'))}`), undefined, 'no window opened')
  const added = (await trail(c)).slice(before)
  t.equal(added.length, 1)
  const e = added[0]
  t.same(withoutKey(e), { type: 'access.refused', refused: true, permit: false, kind: 'access.break_glass', code: 'NOT_EMERGENCY_ROLE', reason: 'NOT_EMERGENCY_ROLE', action: 'read', purpose: 'ETREAT', txId: tx.id, actor: c.key('drA'), at: { height: c.height, time: c.time } })
  t.notOk('breakGlass' in e, 'a refused attempt is not flagged as a break-glass access')
  // Other refusals of an emergency-role provider are recorded the same way.
  t.equal(c.run('er', 'access.break_glass', { ...body, purpose: 'TREAT' }).code, 'BREAK_GLASS_PURPOSE')
  t.equal(c.run('er', 'access.break_glass', { ...body, durationMs: 0 }).code, 'BAD_WINDOW')
  t.same((await trail(c)).slice(before).map(x => [x.code, x.purpose, toHex(x.actor)]), [
    ['NOT_EMERGENCY_ROLE', 'ETREAT', toHex(c.key('drA'))],
    ['BREAK_GLASS_PURPOSE', 'TREAT', toHex(c.key('er'))],
    ['BAD_WINDOW', 'ETREAT', toHex(c.key('er'))]
  ])
  // The API renders it as JSON with the flag (the explorer shows "deny <reason>").
  const json = toJson(e) as Record<string, unknown>
  t.same([json.refused, json.permit, json.code, json.kind, json.actor], [true, false, 'NOT_EMERGENCY_ROLE', 'access.break_glass', toHex(c.key('drA'))])
})

t.test('W07 a refused record write is recorded with the decision\'s reason; the record is untouched', async t => {
  const c = world()
  const anchor = c.tx('drA', 'record.anchor', { patient: c.key('pat'), category: 'mental_health', hash: h(1), locator: 's3://b/1', purpose: 'TREAT' })
  const r = c.block([anchor]).results[0]
  t.same([r.code, r.log], ['WRITE_DENIED', 'NO_CONSENT'])
  t.same(listRecords(c.state, c.key('pat')), [], 'nothing anchored')
  let last = (await trail(c)).at(-1)!
  t.same([last.type, last.refused, last.kind, last.code, last.reason, last.category, last.action, last.purpose], ['access.refused', true, 'record.anchor', 'WRITE_DENIED', 'NO_CONSENT', 'mental_health', 'write', 'TREAT'])
  t.ok(bytesEqual(last.actor, c.key('drA')) && bytesEqual(last.txId, anchor.id), 'who, and which tx')
  t.equal(last.record, undefined, 'a refused anchor creates no record id')
  // Patient's own record, then a provider with a read-only grant tries to amend and erase it.
  const own = c.tx('pat', 'record.anchor', { patient: c.key('pat'), category: 'labs', hash: h(2), locator: 's3://b/2', purpose: 'PATRQT' })
  t.equal(c.block([own]).results[0].code, 'OK')
  t.equal(c.run('pat', 'consent.grant', grantBody(c)).code, 'OK')
  const amend = c.run('drA', 'record.amend', { patient: c.key('pat'), record: own.id, hash: h(3), locator: 's3://b/3', purpose: 'TREAT' })
  t.same([amend.code, amend.log], ['WRITE_DENIED', 'ACTION_NOT_GRANTED'])
  last = (await trail(c)).at(-1)!
  t.same([last.kind, last.reason, last.category, last.action], ['record.amend', 'ACTION_NOT_GRANTED', 'labs', 'write'])
  t.ok(last.record !== undefined && bytesEqual(last.record, own.id), 'names the record')
  t.equal(listRecords(c.state, c.key('pat'))[0].amendments.length, 0, 'no amendment applied')
  t.equal(c.run('drB', 'record.erase', { patient: c.key('pat'), record: own.id, purpose: 'TREAT' }).code, 'WRITE_DENIED')
  t.same((await trail(c)).at(-1)!.kind, 'record.erase')
  t.equal(listRecords(c.state, c.key('pat'))[0].erased, undefined, 'not erased')
  // The patient's own refused write is recorded too (their own trail).
  t.equal(c.run('pat', 'record.erase', { patient: c.key('pat'), record: own.id, purpose: 'PATRQT' }).code, 'OK')
  t.equal(c.run('pat', 'record.amend', { patient: c.key('pat'), record: own.id, hash: h(4), locator: 'x', purpose: 'PATRQT' }).code, 'RECORD_ERASED')
  t.same([(await trail(c)).at(-1)!.code, (await trail(c)).at(-1)!.refused], ['RECORD_ERASED', true])
})

t.test('W07 refused attempts by keys that may not write the trail are not recorded', async t => {
  const c = world()
  const anchor = (who: string): TxResult => c.run(who, 'record.anchor', { patient: c.key('pat'), category: 'labs', hash: h(9), locator: 'x', purpose: 'TREAT' })
  const bg = (who: string): TxResult => c.run(who, 'access.break_glass', { patient: c.key('pat'), purpose: 'ETREAT', reason: 'x', durationMs: 60_000 })
  await refusedUnrecorded(t, c, 'stranger', () => anchor('stranger'), 'WRITE_DENIED')
  await refusedUnrecorded(t, c, 'pat2', () => anchor('pat2'), 'WRITE_DENIED')
  await refusedUnrecorded(t, c, 'stranger', () => bg('stranger'), 'NOT_PROVIDER')
  await refusedUnrecorded(t, c, 'pat2', () => bg('pat2'), 'NOT_PROVIDER')
  t.equal(anchor('drA').code, 'WRITE_DENIED', 'control: a provider\'s refused write')
  t.equal((await trail(c)).at(-1)!.refused, true, 'control: is recorded')
})

t.test('the header covers refused entries (the results root commits to each tx\'s audit entries)', async t => {
  const c = world()
  const exec = c.block([c.tx('drA', 'access.break_glass', { patient: c.key('pat'), purpose: 'ETREAT', reason: 'x', durationMs: 60_000 })])
  t.equal(exec.results[0].code, 'NOT_EMERGENCY_ROLE')
  t.equal(exec.appends.length, 1, 'one append: the refused attempt')
  t.equal((decode(exec.appends[0][1]) as AuditEntry).refused, true)
  const leaf = decodeResultLeaf(exec.resultLeaves[0])
  t.same(leaf.audit.map(([k]) => k), [exec.appends[0][0]], 'the refused tx\'s result leaf holds the entry')
  t.ok(bytesEqual(leaf.audit[0][1], exec.appends[0][1]))
  t.ok(bytesEqual(exec.resultsRoot, resultsRoot(exec.resultLeaves)))
  t.notOk(bytesEqual(exec.resultsRoot, resultsRoot([encodeResultLeaf({ ...leaf, audit: [] })])), 'without the entry the root differs')
})

t.test('W08 a representative writes the trail only while in force and within scope, marked actedAs', async t => {
  const c = world()
  t.equal(c.run('alpha', 'provider.register', { key: c.key('reg'), role: 'admin', name: 'Registrar' }).code, 'OK')
  const rep = c.tx('reg', 'representation.designate', {
    patient: c.key('pat'), representative: c.key('mum'), scope: ['grant'], basis: 'legal_guardian', document: h(7), validUntil: c.time + 10 * DAY
  })
  t.equal(c.block([rep]).results[0].code, 'OK')
  t.equal((await trail(c)).at(-1)?.type, 'representation.designated', 'the registrar writes as W05')
  const r = c.run('mum', 'consent.grant', grantBody(c, { patient: c.key('pat') }))
  t.equal(r.code, 'OK')
  const e = (await trail(c)).at(-1) as Entry
  t.same([e.type, toHex(e.actor), toHex(e.actedAs?.representation as Uint8Array)], ['consent.granted', toHex(c.key('mum')), rep.idHex])
  await refusedUnrecorded(t, c, 'mum', () => c.run('mum', 'representation.read_trail', { patient: c.key('pat') }), 'SCOPE_EXCEEDED')
  await refusedUnrecorded(t, c, 'stranger', () => c.run('stranger', 'consent.grant', grantBody(c, { patient: c.key('pat') })), 'NOT_REPRESENTATIVE')
  c.block([], 11 * DAY)
  await refusedUnrecorded(t, c, 'mum', () => c.run('mum', 'consent.grant', grantBody(c, { patient: c.key('pat') })), 'REPRESENTATION_INACTIVE')
})

t.test('every W row of docs/decision-table.md has its test here', async t => {
  const doc = readFileSync(new URL('../../docs/decision-table.md', import.meta.url), 'utf8')
  const self = readFileSync(new URL(import.meta.url), 'utf8')
  const rows = [...doc.matchAll(/^\| (W\d\d) \|/gm)].map(m => m[1])
  t.same(rows, ['W01', 'W02', 'W03', 'W04', 'W05', 'W06', 'W07', 'W08'])
  for (const row of rows) t.ok(self.includes(`t.test('${row} `), row)
})

function withoutKey (e: Entry): Omit<Entry, 'key'> {
  const { key: _, ...rest } = e
  return rest
}
