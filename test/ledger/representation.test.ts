// Acting for a patient (issue 19): rows R01..R17 of docs/decision-table.md, each on a real
// ledger (genesis, executeBlock, apply), the trail read back from the append log.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { sha256 } from '../../crypto/index.js'
import { bytesEqual, toHex, utf8 } from '../../codec/index.js'
import {
  auditTrail, buildTx, checkAccess, decodeTx, describeActor, expectedNonce, listConsents, listRepresentations, LedgerError,
  MAX_REPRESENTATIONS, representationStatus, type AuditEntry, type Grant, type Representation, type TxBody, type TxResult
} from '../../ledger/index.js'
import { world, CHAIN, DAY, type Chain } from './harness.js'

type DesignateBody = TxBody<'representation.designate'>
type GrantBody = TxBody<'consent.grant'>

const DOC = sha256(utf8('birth certificate #4711'))

/** The world of harness.ts plus a registrar (admin provider) at each member, and the parent `mum`. */
function hospital (): Chain {
  const c = world()
  const rs = c.block([
    c.tx('alpha', 'provider.register', { key: c.key('regA'), role: 'admin', name: 'Registrar A' }),
    c.tx('alpha', 'provider.register', { key: c.key('regA2'), role: 'admin', name: 'Registrar A2' }),
    c.tx('beta', 'provider.register', { key: c.key('regB'), role: 'admin', name: 'Registrar B' })
  ]).results
  if (rs.some(r => r.code !== 'OK')) throw new Error('setup failed')
  return c
}

function designateBody (c: Chain, extra: Partial<DesignateBody> = {}): DesignateBody {
  return { patient: c.key('pat'), representative: c.key('mum'), scope: ['answer', 'grant', 'revoke', 'trail'], basis: 'parent_of_minor', document: DOC, majority: c.time + 365 * DAY, ...extra }
}

/** Designates and returns the representation id (the tx id); throws unless OK. */
function designate (c: Chain, who: string, extra: Partial<DesignateBody> = {}): Uint8Array {
  const tx = c.tx(who, 'representation.designate', designateBody(c, extra))
  const r = c.block([tx]).results[0]
  if (r.code !== 'OK') throw new Error(`designate failed: ${r.code} ${r.log ?? ''}`)
  return tx.id
}

function grantBody (c: Chain, extra: Partial<GrantBody> = {}): GrantBody {
  return { grantee: { type: 'provider', key: c.key('drA') }, categories: ['labs'], actions: ['read'], purposes: ['TREAT'], validFrom: c.time, validUntil: c.time + 90 * DAY, patient: c.key('pat'), ...extra }
}

/** Runs a grant by `who` for pat; returns [result, grant id]. */
function grantAs (c: Chain, who: string, extra: Partial<GrantBody> = {}, advanceMs = 1000): [TxResult, Uint8Array] {
  const tx = c.tx(who, 'consent.grant', grantBody(c, extra))
  const r = c.block([tx], advanceMs).results[0]
  return [r, tx.id]
}

const ask = (c: Chain, who = 'drA'): boolean => checkAccess(c.state, { patient: c.key('pat'), requester: c.key(who), category: 'labs', action: 'read', purpose: 'TREAT', time: c.time }).permit
const trail = async (c: Chain): Promise<AuditEntry[]> => await auditTrail(c.reader, c.key('pat'))
const codeLog = (r: TxResult): [string, string | undefined] => [r.code, r.log]

t.test('R01 the patient designates a representative; the trail and the listing show it', async t => {
  const c = hospital()
  const id = designate(c, 'pat', { basis: 'healthcare_poa', majority: undefined, validUntil: c.time + 2 * 365 * DAY, scope: ['grant'] })
  const [r] = listRepresentations(c.state, c.key('pat'))
  t.ok(bytesEqual(r.id, id) && bytesEqual(r.representative, c.key('mum')))
  t.same([r.basis, r.scope, r.designatedBy.type, representationStatus(r, c.time)], ['healthcare_poa', ['grant'], 'patient', 'active'])
  t.ok(bytesEqual(r.document, DOC), 'the legal document is kept by its hash')
  const last = (await trail(c)).at(-1) as AuditEntry
  t.same([last.type, last.basis, toHex(last.representation as Uint8Array), toHex(last.actor)], ['representation.designated', 'healthcare_poa', toHex(id), toHex(c.key('pat'))])
  // After a key rotation the new key designates; the former key is nobody.
  t.equal(c.run('pat', 'patient.rotate_key', { newKey: c.key('patNew') }).code, 'OK')
  t.equal(c.run('pat', 'representation.designate', designateBody(c, { representative: c.key('dad') })).code, 'NOT_AUTHORIZED')
  t.equal(c.run('patNew', 'representation.designate', designateBody(c, { representative: c.key('dad') })).code, 'OK')
})

t.test('R02 a registrar (active admin provider) designates for a patient who cannot act; others may not', async t => {
  const c = hospital()
  designate(c, 'regA')
  const [r] = listRepresentations(c.state, c.key('pat'))
  t.same(r.designatedBy.type === 'registrar' ? [r.designatedBy.org, toHex(r.designatedBy.key)] : null, ['alpha', toHex(c.key('regA'))])
  // Not a registrar: a physician, a member key, a guardian, a stranger.
  for (const who of ['drA', 'alpha', 'g1', 'stranger']) t.equal(c.run(who, 'representation.designate', designateBody(c, { representative: c.key('dad') })).code, 'NOT_AUTHORIZED', who)
  t.equal(c.run('alpha', 'provider.suspend', { key: c.key('regA') }).code, 'OK')
  t.equal(c.run('regA', 'representation.designate', designateBody(c, { representative: c.key('dad') })).code, 'NOT_AUTHORIZED', 'a suspended registrar')
  t.equal(listRepresentations(c.state, c.key('pat')).length, 1)
})

t.test('R03 a representative can never designate further representatives', async t => {
  const c = hospital()
  designate(c, 'regA')
  t.same(codeLog(c.run('mum', 'representation.designate', designateBody(c, { representative: c.key('granny') }))), ['NOT_AUTHORIZED', 'only the patient or a registrar (an active admin provider) designates a representative'])
  t.equal(listRepresentations(c.state, c.key('pat')).length, 1)
})

t.test('R04 revoked by the patient or the designating registrar\'s member; never by the representative', async t => {
  const c = hospital()
  const byReg = designate(c, 'regA')
  const byPat = designate(c, 'pat', { representative: c.key('dad') })
  const revoke = (who: string, representation: Uint8Array): string => c.run(who, 'representation.revoke', { patient: c.key('pat'), representation }).code
  t.equal(revoke('mum', byReg), 'NOT_AUTHORIZED', 'the representative itself')
  t.equal(revoke('regB', byReg), 'NOT_AUTHORIZED', 'a registrar of another member')
  t.equal(revoke('regA', byPat), 'NOT_AUTHORIZED', 'a registrar, for a designation the patient made')
  t.equal(revoke('pat', sha256(utf8('nothing'))), 'REPRESENTATION_UNKNOWN')
  t.equal(revoke('regA2', byReg), 'OK', 'another registrar of the same member (staff change)')
  t.equal(revoke('regA', byReg), 'REPRESENTATION_ALREADY_REVOKED')
  t.equal(revoke('pat', byPat), 'OK', 'the patient')
  t.same(listRepresentations(c.state, c.key('pat')).map(r => representationStatus(r, c.time)), ['revoked', 'revoked'])
  t.same((await trail(c)).filter(e => e.type === 'representation.revoked').map(e => toHex(e.actor)), [toHex(c.key('regA2')), toHex(c.key('pat'))])
})

t.test('R05 a representative key is a person\'s key: not the patient\'s, a member\'s or a provider\'s; the key rule applies', async t => {
  const c = hospital()
  for (const who of ['pat', 'alpha', 'drA']) t.same(c.run('regA', 'representation.designate', designateBody(c, { representative: c.key(who) })).code, 'BAD_REPRESENTATIVE', who)
  t.equal(c.run('regA', 'representation.designate', designateBody(c, { representative: c.key('pat2') })).code, 'OK', 'another patient (a parent is often a patient too)')
  // The representative field is refused exactly as provider.register's key is (TX_BAD_KEY under the crypto key rule).
  const identity = new Uint8Array(32); identity[0] = 1 // the identity point: anyone can sign for it
  const refusal = (kind: 'provider.register' | 'representation.designate', body: object): string => {
    try { decodeTx(buildTx(kind, body as never, { chainId: CHAIN, signer: c.signer('regA'), nonce: 0 }).bytes, CHAIN); return 'accepted' } catch (err) { return (err as LedgerError).code }
  }
  t.equal(refusal('representation.designate', designateBody(c, { representative: identity })), 'TX_BAD_KEY')
  t.equal(refusal('provider.register', { key: identity, role: 'admin', name: 'x' }), 'TX_BAD_KEY', 'as provider.register\'s key')
  // Stateless: a parent of a minor needs the majority date; the window must be ordered.
  t.equal(refusal('representation.designate', designateBody(c, { majority: undefined })), 'TX_MALFORMED')
  t.equal(refusal('representation.designate', designateBody(c, { validFrom: c.time + 2, validUntil: c.time + 1 })), 'TX_MALFORMED')
})

t.test('R06 a key with no representation of the patient can not act for it', async t => {
  const c = hospital()
  designate(c, 'regA', { patient: c.key('pat2') })
  const [r] = grantAs(c, 'mum')
  t.equal(r.code, 'NOT_REPRESENTATIVE', 'a representative of another patient')
  t.equal(grantAs(c, 'stranger')[0].code, 'NOT_REPRESENTATIVE')
  t.equal(grantAs(c, 'pat2')[0].code, 'NOT_REPRESENTATIVE', 'another patient')
  t.equal(grantAs(c, 'drA')[0].code, 'NOT_REPRESENTATIVE', 'the grantee itself')
  t.equal(grantAs(c, 'mum', { patient: c.key('nobody') })[0].code, 'PATIENT_UNKNOWN')
  t.equal(ask(c), false)
})

t.test('R07 a revoked representation\'s later grants are refused; grants it made before stay valid until revoked', async t => {
  const c = hospital()
  const rep = designate(c, 'regA')
  const [before, earlier] = grantAs(c, 'mum')
  t.equal(before.code, 'OK')
  t.equal(c.run('regA', 'representation.revoke', { patient: c.key('pat'), representation: rep }).code, 'OK')
  t.same(codeLog(grantAs(c, 'mum', { grantee: { type: 'provider', key: c.key('drB') } })[0]), ['REPRESENTATION_INACTIVE', 'REPRESENTATION_REVOKED'])
  t.same(codeLog(c.run('mum', 'consent.revoke', { grantId: earlier, patient: c.key('pat') })), ['REPRESENTATION_INACTIVE', 'REPRESENTATION_REVOKED'])
  t.equal(ask(c), true, 'the grant made while it was in force still permits')
  t.equal(ask(c, 'drB'), false)
  t.equal(c.run('pat', 'consent.revoke', { grantId: earlier }).code, 'OK', 'the patient revokes it')
  t.equal(ask(c), false)
})

t.test('R08 a minor\'s representation ends at the majority date by block time, with no transaction', async t => {
  const c = hospital()
  designate(c, 'regA', { majority: c.time + 10_000 })
  const [r1, earlier] = grantAs(c, 'mum')
  t.equal(r1.code, 'OK')
  const height = c.height
  // Blocks pass with nothing about the representation in them; block time crosses the date.
  c.block([], 20_000)
  t.equal(c.height, height + 1)
  t.same(codeLog(grantAs(c, 'mum', { grantee: { type: 'provider', key: c.key('drB') } })[0]), ['REPRESENTATION_INACTIVE', 'REPRESENTATION_MAJORITY'])
  t.same(listRepresentations(c.state, c.key('pat')).map(r => representationStatus(r, c.time)), ['majority'])
  t.equal(ask(c), true, 'the parent\'s earlier grant stays until the grown patient revokes it')
  t.equal(c.run('pat', 'consent.revoke', { grantId: earlier }).code, 'OK')
  t.equal(ask(c), false)
  // Control: one millisecond before the date the same grant is accepted.
  const d = hospital()
  const majority = d.time + 10_000
  designate(d, 'regA', { majority })
  t.equal(grantAs(d, 'mum', {}, majority - 1 - d.time)[0].code, 'OK')
  t.equal(d.time, majority - 1)
  t.equal(grantAs(d, 'mum', { grantee: { type: 'provider', key: d.key('drB') } }, 1)[0].code, 'REPRESENTATION_INACTIVE', 'at the date itself it has ended')
})

t.test('R09 an expired representation (validUntil) acts no more; earlier grants stay', async t => {
  const c = hospital()
  designate(c, 'pat', { basis: 'healthcare_poa', majority: undefined, validUntil: c.time + 5_000 })
  t.equal(grantAs(c, 'mum')[0].code, 'OK')
  t.same(codeLog(grantAs(c, 'mum', { grantee: { type: 'provider', key: c.key('drB') } }, 10_000)[0]), ['REPRESENTATION_INACTIVE', 'REPRESENTATION_EXPIRED'])
  t.equal(ask(c), true)
  t.equal(c.run('regA', 'representation.designate', designateBody(c, { basis: 'legal_guardian', majority: undefined, validUntil: c.time })).code, 'BAD_WINDOW', 'an end in the past')
})

t.test('R10 a representation not yet in force (validFrom) can not act yet', async t => {
  const c = hospital()
  designate(c, 'regA', { basis: 'legal_guardian', majority: undefined, validFrom: c.time + 50_000 })
  t.same(codeLog(grantAs(c, 'mum')[0]), ['REPRESENTATION_INACTIVE', 'REPRESENTATION_NOT_YET_VALID'])
  t.equal(grantAs(c, 'mum', {}, 60_000)[0].code, 'OK')
})

t.test('R11 a representative acts only within its scope: grant, revoke, answer, trail', async t => {
  const c = hospital()
  designate(c, 'regA', { scope: ['revoke'] })
  designate(c, 'regA', { representative: c.key('dad'), scope: ['grant'] })
  t.same(codeLog(grantAs(c, 'mum')[0]), ['SCOPE_EXCEEDED', 'ACT_NOT_IN_SCOPE'], 'revoke-only can not grant')
  const [ok, id] = grantAs(c, 'dad')
  t.equal(ok.code, 'OK')
  t.same(codeLog(c.run('dad', 'consent.revoke', { grantId: id, patient: c.key('pat') })), ['SCOPE_EXCEEDED', 'ACT_NOT_IN_SCOPE'], 'grant-only can not revoke')
  t.same(codeLog(c.run('dad', 'representation.read_trail', { patient: c.key('pat') })), ['SCOPE_EXCEEDED', 'ACT_NOT_IN_SCOPE'], 'grant-only can not read the trail')
  const revoked = c.run('mum', 'consent.revoke', { grantId: id, patient: c.key('pat') })
  t.same([revoked.code, revoked.events[0].attributes.basis], ['OK', 'parent_of_minor'], 'revoke-only revokes')
  const g = listConsents(c.state, c.key('pat'), c.time)[0].grant
  t.same([toHex(g.grantedBy?.representative as Uint8Array), toHex(g.revokedBy?.representative as Uint8Array)], [toHex(c.key('dad')), toHex(c.key('mum'))])
})

t.test('R12 a representative can not widen a grant beyond the categories of its scope', async t => {
  const c = hospital()
  // A parent of an adolescent: everyday care, not confidential services.
  designate(c, 'regA', { categories: ['*'] })
  t.same(codeLog(grantAs(c, 'mum', { categories: ['*', 'sexual_reproductive'] })[0]), ['SCOPE_EXCEEDED', 'CATEGORY_NOT_IN_SCOPE'], 'a sensitive category is not under *')
  t.same(codeLog(grantAs(c, 'mum', { categories: ['mental_health'] })[0]), ['SCOPE_EXCEEDED', 'CATEGORY_NOT_IN_SCOPE'])
  t.equal(grantAs(c, 'mum', { categories: ['labs', 'vitals'] })[0].code, 'OK', 'non-sensitive categories are under *')
  t.equal(grantAs(c, 'mum', { categories: ['*'], exclude: ['billing'] })[0].code, 'OK')
  const d = hospital()
  designate(d, 'regA', { categories: ['immunizations', 'labs'] })
  t.same(codeLog(grantAs(d, 'mum', { categories: ['*'] })[0]), ['SCOPE_EXCEEDED', 'CATEGORY_NOT_IN_SCOPE'], '* is wider than named categories')
  t.equal(grantAs(d, 'mum', { categories: ['labs'] })[0].code, 'OK')
  t.same(listConsents(d.state, d.key('pat'), d.time).map(x => x.grant.categories), [['labs']])
})

t.test('R13 a representative that only answers requests grants no more than was asked', async t => {
  const c = hospital()
  designate(c, 'regA', { scope: ['answer'] })
  const req = c.tx('drA', 'access.request', { patient: c.key('pat'), categories: ['immunizations', 'labs'], actions: ['read'], purposes: ['TREAT'] })
  t.equal(c.block([req]).results[0].code, 'OK')
  t.same(codeLog(grantAs(c, 'mum')[0]), ['SCOPE_EXCEEDED', 'ACT_NOT_IN_SCOPE'], 'a grant that answers nothing')
  t.same(codeLog(grantAs(c, 'mum', { request: req.id, categories: ['labs', 'vitals'] })[0]), ['SCOPE_EXCEEDED', 'BEYOND_REQUEST'], 'a category not asked for')
  t.same(codeLog(grantAs(c, 'mum', { request: req.id, actions: ['read', 'write'] })[0]), ['SCOPE_EXCEEDED', 'BEYOND_REQUEST'], 'an action not asked for')
  t.same(codeLog(grantAs(c, 'mum', { request: req.id, grantee: { type: 'org', member: 'alpha' } })[0]), ['SCOPE_EXCEEDED', 'BEYOND_REQUEST'], 'a wider grantee')
  t.equal(grantAs(c, 'mum', { request: req.id, categories: ['labs'] })[0].code, 'OK', 'within the request')
  t.equal(ask(c), true)
  t.same(c.state.keysInGroup(`request/${toHex(c.key('pat'))}/`), [], 'the request is answered')
})

t.test('R14 a representative\'s grant permits like the patient\'s and records both patient and representative', async t => {
  const c = hospital()
  const rep = designate(c, 'regA')
  const [r, id] = grantAs(c, 'mum')
  t.equal(r.code, 'OK')
  t.same(r.events[0].attributes, { grantId: toHex(id), representative: toHex(c.key('mum')), representation: toHex(rep), basis: 'parent_of_minor' })
  const byPatient = hospital()
  grantAs(byPatient, 'pat', { patient: undefined })
  const decisionOf = (x: Chain): unknown => { const d = checkAccess(x.state, { patient: x.key('pat'), requester: x.key('drA'), category: 'labs', action: 'read', purpose: 'TREAT', time: x.time }); return [d.permit, d.reason] }
  t.same(decisionOf(c), decisionOf(byPatient), 'the same decision as the patient\'s own grant')
  t.same(decisionOf(c), [true, 'CONSENT_GRANTED'])
  const g = listConsents(c.state, c.key('pat'), c.time)[0].grant as Grant
  t.ok(bytesEqual(g.patient, c.key('pat')) && bytesEqual(g.grantedBy?.representation as Uint8Array, rep), 'the grant is the patient\'s, made by the representative')
  const e = (await trail(c)).find(x => x.type === 'consent.granted') as AuditEntry
  t.equal(describeActor(e), `by representative ${toHex(c.key('mum'))} (parent_of_minor)`)
  t.equal(describeActor((await trail(c))[0]), `by ${toHex(c.key('pat'))}`, 'the patient\'s own entries')
  // The patient sees it and revokes it.
  t.equal(c.run('pat', 'consent.revoke', { grantId: id }).code, 'OK')
  t.equal(ask(c), false)
})

t.test('R15 a representative can never rotate the patient\'s key or approve its recovery', async t => {
  const c = hospital()
  designate(c, 'regA')
  const key = listRepresentations(c.state, c.key('pat'))[0].patient
  t.equal(c.run('mum', 'patient.rotate_key', { newKey: c.key('mumsChoice') }).code, 'NOT_PATIENT')
  t.equal(c.run('mum', 'patient.recover', { patient: c.key('pat'), newKey: c.key('mumsChoice') }).code, 'NOT_GUARDIAN')
  const patient = c.state.get<{ key: Uint8Array }>(`patient/${toHex(key)}`)
  t.ok(bytesEqual(patient?.key as Uint8Array, c.key('pat')), 'the key is unchanged')
  // A parent who is a patient rotates only its own key.
  designate(c, 'regA', { representative: c.key('pat2') })
  t.equal(c.run('pat2', 'patient.rotate_key', { newKey: c.key('pat2new') }).code, 'OK')
  t.ok(bytesEqual(c.state.get<{ key: Uint8Array }>(`patient/${toHex(c.key('pat'))}`)?.key as Uint8Array, c.key('pat')))
})

t.test('R16 a representative\'s trail read is in the trail before the API serves it', async t => {
  const c = hospital()
  const rep = designate(c, 'regA', { scope: ['trail'] })
  const r = c.run('mum', 'representation.read_trail', { patient: c.key('pat') })
  t.same([r.code, r.events[0].type, r.events[0].patient], ['OK', 'trail.read', toHex(c.key('pat'))])
  const e = (await trail(c)).at(-1) as AuditEntry
  t.same([e.type, toHex(e.actor), toHex(e.actedAs?.representation as Uint8Array), e.actedAs?.basis], ['trail.read', toHex(c.key('mum')), toHex(rep), 'parent_of_minor'])
  t.same(codeLog(c.run('pat', 'representation.read_trail', { patient: c.key('pat') })), ['NOT_REPRESENTATIVE', 'the patient reads its own trail without a transaction'])
  t.equal(c.run('stranger', 'representation.read_trail', { patient: c.key('pat') }).code, 'NOT_REPRESENTATIVE')
})

t.test('R17 at most MAX_REPRESENTATIONS standing representations per patient; ended ones free a place', async t => {
  const c = hospital()
  const ids: Uint8Array[] = []
  for (let i = 0; i < MAX_REPRESENTATIONS; i++) ids.push(designate(c, 'regA', { representative: c.key(`rep${i}`) }))
  const over = c.run('regA', 'representation.designate', designateBody(c, { representative: c.key('one-more') }))
  t.equal(over.code, 'TOO_MANY_REPRESENTATIONS')
  t.equal(c.run('pat', 'representation.revoke', { patient: c.key('pat'), representation: ids[0] }).code, 'OK')
  t.equal(c.run('regA', 'representation.designate', designateBody(c, { representative: c.key('one-more') })).code, 'OK')
  t.equal(expectedNonce(c.state, c.key('regA')), MAX_REPRESENTATIONS + 2)
  t.equal(listRepresentations(c.state, c.key('pat')).filter((r: Representation) => representationStatus(r, c.time) === 'active').length, MAX_REPRESENTATIONS)
})

t.test('every R row of docs/decision-table.md has its test here', async t => {
  const doc = readFileSync(new URL('../../docs/decision-table.md', import.meta.url), 'utf8')
  const self = readFileSync(new URL(import.meta.url), 'utf8')
  const rows = [...doc.matchAll(/^\| (R\d\d) \|/gm)].map(m => m[1])
  t.same(rows, Array.from({ length: 17 }, (_, i) => `R${String(i + 1).padStart(2, '0')}`))
  for (const row of rows) t.ok(self.includes(`t.test('${row} `), row)
})
