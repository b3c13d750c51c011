// The FHIR R4 routes on one real validator process: grants as Consent, the trail as
// AuditEvent (every resource validated against R4), and Consent import through POST
// /fhir/Consent and `medchain tx consent.import`, with its refusals as OperationOutcome.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toBase64, toHex } from '../../codec/index.js'
import { generateSeed, writeKeyFile } from '../../crypto/index.js'
import { consentToGrant, grantToConsent } from '../../fhir/index.js'
import { buildTx, fastSigner, type Grant } from '../../ledger/index.js'
import { Cluster, MAIN } from './cluster.js'
import { fhirProblems } from '../fhir/validator.js'

const cluster = new Cluster(1)
t.teardown(async () => { await cluster.stopAll() })
const client = cluster.nodes[0].client
const api = cluster.nodes[0].api
const DAY = 86_400_000
const PCF = join(import.meta.dirname, import.meta.url.includes('/dist/') ? '../../../../shared/fhir/ihe-pcf' : '../../../shared/fhir/ihe-pcf')

/** A FHIR request, with a fresh token of `seed` (the caller's key) when given. */
async function fhir (path: string, init: RequestInit = {}, seed?: Uint8Array): Promise<{ status: number, type: string, body: any }> {
  const auth = seed === undefined ? {} : await client.as(seed).authHeaders()
  const res = await fetch(api + path, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...auth } })
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.json() }
}

t.test('FHIR routes on a single node', async t => {
  await cluster.startAll()
  const member = fastSigner(cluster.nodes[0].seed)
  const memberName = (await client.get<Array<{ name: string }>>('/v1/validators'))[0].name
  const patientSeed = generateSeed()
  const patient = fastSigner(patientSeed)
  const providerSeed = generateSeed()
  const provider = fastSigner(providerSeed)
  const other = fastSigner(generateSeed())
  const pid = toHex(patient.publicKey)
  t.equal((await client.send('patient.register', {}, patient, { wait: true })).code, 'OK')
  t.equal((await client.send('provider.register', { key: provider.publicKey, role: 'physician', name: 'Dr Ada' }, member, { wait: true })).code, 'OK')
  t.equal((await client.send('provider.register', { key: other.publicKey, role: 'nurse', name: 'Nurse Bo' }, member, { wait: true })).code, 'OK')
  const now = Date.now()
  const grant = await client.send('consent.grant', { grantee: { type: 'provider', key: provider.publicKey }, categories: ['*', 'mental_health'], exclude: ['labs'], actions: ['read'], purposes: ['TREAT'], validFrom: now - DAY, validUntil: now + 90 * DAY }, patient, { wait: true })
  t.equal(grant.code, 'OK')
  t.equal((await client.send('access.log', { patient: patient.publicKey, category: 'mental_health', action: 'read', purpose: 'TREAT' }, provider, { wait: true })).code, 'OK')
  t.equal((await client.send('access.log', { patient: patient.publicKey, category: 'vitals', action: 'read', purpose: 'TREAT' }, other, { wait: true })).code, 'OK')

  await t.test('GET /fhir/Consent?patient= is a searchset of valid Consents', async t => {
    const r = await fhir(`/fhir/Consent?patient=${pid}`, {}, patientSeed)
    t.equal(r.status, 200)
    t.match(r.type, /^application\/fhir\+json/)
    t.same(fhirProblems(r.body), [])
    t.equal(r.body.type, 'searchset')
    t.equal(r.body.total, 1)
    t.equal(r.body.entry[0].resource.id, grant.id)
    t.equal(r.body.entry[0].resource.status, 'active')
    t.same((await fhir(`/fhir/Consent?patient=Patient/${pid}`, {}, patientSeed)).body.total, 1, 'Patient/<id> form')
    const one = await fhir(`/fhir/Consent/${grant.id}`, {}, patientSeed)
    t.equal(one.status, 200)
    t.same(one.body, r.body.entry[0].resource, 'read by id is the same resource')
    const missing = await fhir(`/fhir/Consent/${'0'.repeat(64)}`, {}, patientSeed)
    t.equal(missing.status, 404)
    t.equal(missing.body.resourceType, 'OperationOutcome')
    const bad = await fhir('/fhir/Consent?patient=nobody', {}, patientSeed)
    t.equal(bad.status, 400)
    t.same(fhirProblems(bad.body), [])
    t.equal((await fhir(`/fhir/Consent?patient=${pid}&_count=5`, {}, patientSeed)).status, 400, 'an unsupported parameter is refused, not ignored')
    const anonymous = await fhir(`/fhir/Consent?patient=${pid}`)
    t.equal(anonymous.status, 401, 'the API\'s rules: a patient\'s consents need a token')
    t.equal(anonymous.body.resourceType, 'OperationOutcome')
    const byProvider = await fhir(`/fhir/Consent/${grant.id}`, {}, providerSeed)
    t.equal(byProvider.status, 403, 'and are read by that patient only')
    t.equal((await fhir(`/fhir/AuditEvent?patient=${pid}`, {}, providerSeed)).status, 403, 'the trail too')
  })

  await t.test('GET /fhir/AuditEvent?patient= shows the permitted read pointing at its Consent and the denied one', async t => {
    const r = await fhir(`/fhir/AuditEvent?patient=${pid}`, {}, patientSeed)
    t.equal(r.status, 200)
    t.same(fhirProblems(r.body), [])
    const reads = r.body.entry.map((e: any) => e.resource).filter((e: any) => e.action === 'R')
    t.equal(reads.length, 2)
    t.equal(reads[0].outcome, '0')
    t.ok(reads[0].entity.some((e: any) => e.what?.reference === `Consent/${grant.id}`))
    t.equal(reads[0].agent[0].who.reference, `Practitioner/${toHex(provider.publicKey)}`)
    t.equal(reads[1].outcome, '8')
    t.equal(reads[1].outcomeDesc, 'NO_CONSENT')
  })

  await t.test('POST /fhir/Consent: refusals are OperationOutcomes; a patient-signed Consent becomes a grant', async t => {
    const consent = JSON.parse(readFileSync(join(PCF, 'Consent-ex-consent-basic-treat.json'), 'utf8')
      .replaceAll('"Patient/ex-patient"', `"Patient/${pid}"`).replaceAll('"Organization/ex-organization"', `"Organization/${memberName}"`))
    const post = async (body: unknown, tx?: Uint8Array, wait = true): Promise<{ status: number, type: string, body: any }> => await fhir(`/fhir/Consent${wait ? '?wait=commit' : ''}`, {
      method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/fhir+json', ...(tx !== undefined ? { 'x-medchain-tx': toBase64(tx) } : {}) }
    })
    const reject = JSON.parse(readFileSync(join(PCF, 'Consent-ex-consent-basic-reject.json'), 'utf8').replaceAll('"Patient/ex-patient"', `"Patient/${pid}"`))
    const refused = await post(reject)
    t.equal(refused.status, 422)
    t.same(fhirProblems(refused.body), [])
    t.equal(refused.body.issue[0].expression[0], 'Consent.provision.type')
    const noEnd = await post(consent)
    t.equal(noEnd.status, 422, 'no end and no signed grant to take it from')
    t.equal(noEnd.body.issue[0].expression[0], 'Consent.provision.period.end')
    const withEnd = { ...consent, provision: { ...consent.provision, period: { end: new Date(Date.now() + 30 * DAY).toISOString().slice(0, 10) } } }
    const unsigned = await post(withEnd)
    t.equal(unsigned.status, 400, 'no signature: nothing is submitted')
    t.equal(unsigned.body.issue[0].expression[0], 'x-medchain-tx')
    const until = Date.now() + 365 * DAY
    const mapped = consentToGrant(consent, { patient: patient.publicKey, validUntil: until })
    if (!mapped.ok) { t.fail(JSON.stringify(mapped.outcome)); return }
    const chainId = cluster.chainId
    const nonce = (await client.get<{ nextPendingNonce: number }>(`/v1/accounts/${pid}`)).nextPendingNonce
    const wrongBody = buildTx('consent.grant', { ...mapped.body, purposes: ['TREAT'] }, { chainId, signer: patient, nonce })
    const mismatch = await post(consent, wrongBody.bytes)
    t.equal(mismatch.status, 422)
    t.match(mismatch.body.issue[0].diagnostics, /purposes differs/)
    const notPatient = await post(consent, buildTx('consent.grant', mapped.body, { chainId, signer: provider, nonce: 0 }).bytes)
    t.equal(notPatient.status, 403)
    const ok = await post(consent, buildTx('consent.grant', mapped.body, { chainId, signer: patient, nonce }).bytes)
    t.equal(ok.status, 201, JSON.stringify(ok.body))
    t.same(fhirProblems(ok.body), [])
    const decision = await client.get<{ permit: boolean, reason: string }>(`/v1/decision?patient=${pid}&grantee=${toHex(other.publicKey)}&category=labs&action=read&purpose=HPAYMT`)
    t.same(decision, { permit: true, reason: 'CONSENT_GRANTED', grantId: ok.body.id }, 'the basic consent permits the organisation\'s nurse')
  })

  await t.test('medchain tx consent.import --fhir: imports, or prints the OperationOutcome and exits 2', async t => {
    const dir = mkdtempSync(join(tmpdir(), 'medchain-fhir-'))
    writeKeyFile(join(dir, 'patient.json'), patientSeed)
    // A Consent as another medchain node would export it: a grant of hiv to the nurse.
    const exported = grantToConsent({ id: new Uint8Array(32), patient: patient.publicKey, grantee: { type: 'provider', key: other.publicKey }, categories: ['hiv'], actions: ['read'], purposes: ['TREAT'], validFrom: now, validUntil: now + 30 * DAY, granted: { height: 1, time: now } } as Grant, now)
    writeFileSync(join(dir, 'consent.json'), JSON.stringify(exported))
    const run = async (...args: string[]): Promise<{ status: number | null, out: string, err: string }> => {
      const child = spawn(process.execPath, [MAIN, 'tx', 'consent.import', '--key', join(dir, 'patient.json'), '--node', api, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''; let err = ''
      child.stdout.on('data', d => { out += String(d) })
      child.stderr.on('data', d => { err += String(d) })
      return { status: await new Promise<number | null>(resolve => child.on('exit', resolve)), out, err }
    }
    const r = await run('--fhir', join(dir, 'consent.json'), '--wait')
    t.equal(r.status, 0, r.err + r.out)
    t.equal(JSON.parse(r.out).status, 201)
    const d = await client.get<{ permit: boolean }>(`/v1/decision?patient=${pid}&grantee=${toHex(other.publicKey)}&category=hiv&action=read&purpose=TREAT`)
    t.equal(d.permit, true, 'the imported grant names hiv for the nurse')
    writeFileSync(join(dir, 'refused.json'), readFileSync(join(PCF, 'Consent-ex-consent-intermediate-data.json'), 'utf8').replaceAll('"Patient/ex-patient"', `"Patient/${pid}"`))
    const refused = await run('--fhir', join(dir, 'refused.json'), '--valid-until', '+30d')
    t.equal(refused.status, 2)
    t.equal(JSON.parse(refused.err).issue[0].expression[0], 'Consent.provision.data')
  })
})
