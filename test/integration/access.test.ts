// Who may see what (docs/access-table.md), on one real validator process: anonymous and
// wrong-patient reads are refused, a provider reads only under a logged, permitted access
// that lands in the patient's trail, each token defect has its 401 code, the event stream
// is scoped to the caller, and /metrics is not on the API port.
import t from 'tap'
import { toHex } from '../../codec/index.js'
import { generateSeed, publicKeyFromSeed } from '../../crypto/index.js'
import { fastSigner } from '../../ledger/index.js'
import { TokenSigner, audienceOf } from '../../node/auth/token.js'
import { Cluster } from './cluster.js'

const cluster = new Cluster(1)
t.teardown(async () => { await cluster.stopAll() })
const node = cluster.nodes[0]
const member = node.client
const DAY = 86_400_000

const seeds = { patient: generateSeed(), other: generateSeed(), physician: generateSeed(), outsider: generateSeed() }
const patientId = toHex(publicKeyFromSeed(seeds.patient))
const otherId = toHex(publicKeyFromSeed(seeds.other))
const physicianKey = publicKeyFromSeed(seeds.physician)
const asPatient = member.as(seeds.patient)
const asOther = member.as(seeds.other)
const asPhysician = member.as(seeds.physician)

async function raw (path: string, headers: Record<string, string> = {}): Promise<{ status: number, code?: string, body: any }> {
  const res = await fetch(node.api + path, { headers })
  const body = await res.json() as any
  return { status: res.status, code: body?.error?.code, body }
}
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

let grantId = ''
t.before(async () => {
  await cluster.startAll()
  const ok = (what: string, r: Record<string, unknown>): void => { if (r.code !== 'OK') throw new Error(`${what}: ${JSON.stringify(r)}`) }
  ok('physician', await member.send('provider.register', { key: physicianKey, role: 'physician', name: 'Dr Ada' }, fastSigner(node.seed), { wait: true }))
  ok('patient', await asPatient.send('patient.register', {}, fastSigner(seeds.patient), { wait: true }))
  ok('other', await asOther.send('patient.register', {}, fastSigner(seeds.other), { wait: true }))
  const now = Date.now()
  const grant = await asPatient.send('consent.grant', {
    grantee: { type: 'provider', key: physicianKey }, categories: ['labs'], actions: ['read', 'write'], purposes: ['TREAT'], validFrom: now - DAY, validUntil: now + 30 * DAY
  }, fastSigner(seeds.patient), { wait: true })
  ok('grant', grant)
  grantId = grant.id
  ok('anchor', await asPhysician.send('record.anchor', { patient: publicKeyFromSeed(seeds.patient), category: 'labs', hash: new Uint8Array(32).fill(1), locator: 'lab-1', purpose: 'TREAT' }, fastSigner(seeds.physician), { wait: true }))
})

t.test('a patient\'s data: anonymous 401, another patient 403, the patient 200', async t => {
  for (const route of ['audit', 'consents', 'records', 'requests', 'break-glass']) {
    const anon = await raw(`/v1/patients/${patientId}/${route}`)
    t.same([anon.status, anon.code], [401, 'AUTH_MISSING'], `anonymous ${route}`)
    const other = await raw(`/v1/patients/${patientId}/${route}`, await asOther.authHeaders())
    t.same([other.status, other.code], [403, 'ACCESS_NOT_YOURS'], `another patient's token on ${route}`)
    const own = await raw(`/v1/patients/${patientId}/${route}`, await asPatient.authHeaders())
    t.equal(own.status, 200, `the patient reads their own ${route}`)
  }
  const physicianTrail = await raw(`/v1/patients/${patientId}/audit`, await asPhysician.authHeaders())
  t.same([physicianTrail.status, physicianTrail.code], [403, 'ACCESS_NOT_YOURS'], 'a provider does not read the trail')
})

t.test('a provider reads while the grant is active, its read is in the trail; after revocation 403', async t => {
  const direct = await raw(`/v1/patients/${patientId}/records`, await asPhysician.authHeaders({ purpose: 'TREAT' }))
  t.same([direct.status, direct.code], [403, 'ACCESS_NOT_LOGGED'], 'no read without a logged access')

  const read = await asPhysician.readRecordsAsProvider<{ records: Array<{ category: string, locator: string }> }>(patientId, { category: 'labs', purpose: 'TREAT' })
  t.equal(read.records.length, 1, 'the labs record is served')
  t.equal(read.records[0].category, 'labs')
  const trail = await asPatient.get<{ entries: Array<{ type: string, txId: Uint8Array | string, permit?: boolean, actor: string }> }>(`/v1/patients/${patientId}/audit`)
  const logged = trail.entries.find(e => e.type === 'access' && toHex(Buffer.from(String(e.txId).replace(/^0x/, ''), 'hex')) === read.access.log)
  t.ok(logged, `the read's access.log ${read.access.log} is in the patient's trail`)
  t.equal(logged?.permit, true, 'recorded as permitted')

  const again = await raw(`/v1/patients/${patientId}/records`, await asPhysician.authHeaders({ purpose: 'TREAT', access: read.access.log }))
  t.same([again.status, again.code], [403, 'ACCESS_LOG_USED'], 'one logged access covers one read')

  t.equal((await asPatient.send('consent.revoke', { grantId: Buffer.from(grantId, 'hex') }, fastSigner(seeds.patient), { wait: true })).code, 'OK')
  await t.rejects(asPhysician.readRecordsAsProvider(patientId, { category: 'labs', purpose: 'TREAT' }), { status: 403, code: 'ACCESS_DENIED' }, 'after revocation: 403')
  const after = await asPatient.get<{ entries: Array<{ type: string, permit?: boolean }> }>(`/v1/patients/${patientId}/audit`)
  t.equal(after.entries.find(e => e.type === 'access')?.permit, false, 'the refused attempt is in the trail too (newest first)')
})

t.test('token defects: 401 with a stable code', async t => {
  const { chainId, nodeKey } = await member.get<{ chainId: string, nodeKey: string }>('/v1/status')
  const signer = new TokenSigner(seeds.patient)
  const path = `/v1/patients/${patientId}/consents`
  const expired = await signer.mint(audienceOf(chainId, nodeKey), { now: Date.now() - 10 * 60_000 })
  t.equal((await raw(path, bearer(expired))).code, 'AUTH_EXPIRED')
  const once = await signer.mint(audienceOf(chainId, nodeKey))
  t.equal((await raw(path, bearer(once))).status, 200, 'first use')
  t.same(await raw(path, bearer(once)).then(r => [r.status, r.code]), [401, 'AUTH_REPLAYED'], 'second use')
  t.equal((await raw(path, bearer(await signer.mint(audienceOf(chainId, 'ab'.repeat(32)))))).code, 'AUTH_WRONG_AUDIENCE')
  t.equal((await raw(path, bearer(await signer.mint(audienceOf('other-chain', nodeKey))))).code, 'AUTH_WRONG_CHAIN')
  const good = await signer.mint(audienceOf(chainId, nodeKey))
  t.equal((await raw(path, bearer(good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA')))).code, 'AUTH_BAD_SIGNATURE')
  const outsider = await new TokenSigner(seeds.outsider).mint(audienceOf(chainId, nodeKey))
  t.same(await raw(path, bearer(outsider)).then(r => [r.status, r.code]), [401, 'AUTH_UNKNOWN_KEY'], 'a key the ledger does not know')
  const res = await fetch(node.api + path)
  t.match(res.headers.get('www-authenticate'), /Bearer .*AUTH_MISSING/, 'WWW-Authenticate names the code')
})

t.test('/v1/decision: the patient, the grantee about itself, members; nobody else', async t => {
  const q = `/v1/decision?patient=${patientId}&grantee=${toHex(physicianKey)}&category=labs&action=read&purpose=TREAT`
  t.equal((await raw(q, await asPatient.authHeaders())).status, 200, 'the patient')
  t.equal((await raw(q, await asPhysician.authHeaders())).status, 200, 'the grantee about itself')
  t.equal((await raw(q, await member.authHeaders())).status, 200, 'a member')
  t.same(await raw(q, await asOther.authHeaders()).then(r => [r.status, r.code]), [403, 'ACCESS_NOT_YOURS'], 'another patient')
  t.equal((await raw(q)).status, 401, 'anonymous')
})

t.test('a member sees chain data and its own providers\' entries in a trail', async t => {
  t.equal((await raw('/v1/blocks/latest', await member.authHeaders())).status, 200, 'member reads blocks')
  t.same(await raw('/v1/blocks/latest', await asPatient.authHeaders()).then(r => [r.status, r.code]), [403, 'ACCESS_MEMBERS_ONLY'], 'a patient does not')
  const trail = await member.get<{ entries: Array<{ type: string }> }>(`/v1/patients/${patientId}/audit`)
  t.ok(trail.entries.length > 0 && trail.entries.every(e => ['access', 'record.anchored', 'access.refused'].includes(e.type) || e.type.startsWith('record')), `only its physician's entries: ${trail.entries.map(e => e.type).join(',')}`)
  t.notOk(trail.entries.some(e => e.type.startsWith('consent')), 'the patient\'s own consent entries are not shown to the member')
  t.equal((await raw('/v1/status')).status, 200, 'status is public')
  t.equal((await raw('/healthz')).status, 200, 'health is public')
  t.equal((await raw('/openapi.json')).status, 200, 'OpenAPI is public')
})

t.test('/v1/events delivers a patient only their own events', async t => {
  const controller = new AbortController()
  const headers = await asOther.authHeaders()
  const res = await fetch(`${node.api}/v1/events`, { headers, signal: controller.signal })
  t.equal(res.status, 200)
  const reader = res.body!.getReader()
  let text = ''
  // First a transaction about the patient, then one about the other patient: when the
  // latter arrives, the former (committed earlier) would have arrived before it.
  const mine = await asPatient.send('access.log', { patient: publicKeyFromSeed(seeds.patient), category: 'labs', action: 'read', purpose: 'TREAT' }, fastSigner(seeds.patient), { wait: true })
  const theirs = await asOther.send('access.log', { patient: publicKeyFromSeed(seeds.other), category: 'labs', action: 'read', purpose: 'TREAT' }, fastSigner(seeds.other), { wait: true })
  const deadline = Date.now() + 30_000
  while (!text.includes(theirs.id) && Date.now() < deadline) {
    const { value, done } = await reader.read()
    if (done) break
    text += Buffer.from(value).toString()
  }
  controller.abort()
  t.ok(text.includes(theirs.id), 'the other patient got their own event')
  t.notOk(text.includes(mine.id), 'and not the patient\'s event committed before it')
  t.notOk(/event: block/.test(text), 'no chain-level block events for a patient')
  const forbidden = await raw(`/v1/events?patient=${patientId}`, await asOther.authHeaders())
  t.same([forbidden.status, forbidden.code], [403, 'ACCESS_NOT_YOURS'], 'cannot ask for another patient\'s stream')
  t.equal((await raw('/v1/events')).status, 401, 'anonymous stream refused')
})

t.test('/metrics is not on the API port; it is on the metrics listener', async t => {
  t.same(await raw('/metrics').then(r => [r.status, r.code]), [404, 'API_NOT_FOUND'])
  const text = await (await fetch(node.metrics)).text()
  t.match(text, /^medchain_api_auth_seconds_count \d+/m, 'auth timing is a metric')
  t.match(text, /^medchain_api_auth_refused_total\{code="AUTH_MISSING"\} \d+/m, 'refusals counted by code')
})
