// The query API on one real validator process: a misspelled word is a 400 that lists the
// allowed words (never a permit), the audit trail comes newest first in pages whose cursors
// hold while accesses keep committing, the CLI pages through it, and a failed transaction
// shows its reason.
import t from 'tap'
import { spawn } from 'node:child_process'
import { toHex } from '../../codec/index.js'
import { generateSeed } from '../../crypto/index.js'
import { CATEGORIES, fastSigner, type TxSigner } from '../../ledger/index.js'
import { writeKeyFile } from '../../crypto/index.js'
import { join } from 'node:path'
import type { MedchainClient } from '../../cli/client.js'
import { Cluster, MAIN } from './cluster.js'

const cluster = new Cluster(1)
t.teardown(async () => { await cluster.stopAll() })
const client = cluster.nodes[0].client
const api = cluster.nodes[0].api
const DAY = 86_400_000

interface AuditPage { patient: string, entries: Array<{ type: string, cursor: string, txId: string, at: { height: number } }>, next: string | null }

/** Who reads: the patient for their own lists (docs/access-table.md); members for anyone's transactions. */
let reader: MedchainClient = client
async function getJson (path: string, as: MedchainClient = reader): Promise<{ status: number, body: any }> {
  const res = await fetch(api + path, { headers: await as.authHeaders() })
  return { status: res.status, body: await res.json() }
}

/** `n` access logs by `provider` about `patient`, all submitted, then all awaited: ids in submit order. */
async function accesses (provider: TxSigner, patient: Uint8Array, n: number): Promise<string[]> {
  const base = (await client.get<{ nextPendingNonce: number }>(`/v1/accounts/${toHex(provider.publicKey)}`)).nextPendingNonce
  const built = []
  for (let i = 0; i < n; i++) built.push(await client.build('access.log', { patient, category: 'labs', action: 'read', purpose: 'TREAT' }, provider, base + i))
  for (const b of built) await client.submit(b.bytes)
  const ids = built.map(b => toHex(b.id))
  for (const id of ids) {
    const deadline = Date.now() + 60_000
    while ((await client.get<{ status: string }>(`/v1/txs/${id}`)).status !== 'committed') {
      if (Date.now() > deadline) throw new Error(`${id} not committed within 60 s`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  return ids
}

async function runCli (...args: string[]): Promise<{ status: number | null, out: string, err: string }> {
  const child = spawn(process.execPath, [MAIN, ...args, '--node', api], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''; let err = ''
  child.stdout.on('data', d => { out += String(d) })
  child.stderr.on('data', d => { err += String(d) })
  const status = await new Promise<number | null>(resolve => child.on('exit', resolve))
  return { status, out, err }
}

t.test('query API on a single node', async t => {
  await cluster.startAll()
  const member = fastSigner(cluster.nodes[0].seed)
  const patientSeed = generateSeed()
  const patient = fastSigner(patientSeed)
  const provider = fastSigner(generateSeed())
  const patientId = toHex(patient.publicKey)
  reader = client.as(patientSeed)
  const patientKeyFile = join(cluster.dir, 'patient_key.json')
  writeKeyFile(patientKeyFile, patientSeed)
  t.equal((await client.send('patient.register', {}, patient, { wait: true })).code, 'OK')
  t.equal((await client.send('provider.register', { key: provider.publicKey, role: 'physician', name: 'Dr Ada' }, member, { wait: true })).code, 'OK')
  const now = Date.now()
  t.equal((await client.send('consent.grant', { grantee: { type: 'provider', key: provider.publicKey }, categories: ['*'], actions: ['read'], purposes: ['TREAT'], validFrom: now - DAY, validUntil: now + 90 * DAY }, patient, { wait: true })).code, 'OK')

  await t.test('a misspelled word is a 400 listing the allowed words, never a permit', async t => {
    const ask = async (category: string, purpose = 'TREAT', action = 'read'): Promise<{ status: number, body: any }> =>
      await getJson(`/v1/decision?patient=${patientId}&grantee=${toHex(provider.publicKey)}&category=${encodeURIComponent(category)}&action=${action}&purpose=${purpose}`)
    for (const category of ['mental-health', 'Mental_Health', 'HIV', 'lab', 'xyz']) {
      const r = await ask(category)
      t.equal(r.status, 400, `category=${category}: ${JSON.stringify(r.body)}`)
      t.equal(r.body.error?.code, 'API_BAD_CATEGORY')
      t.same(r.body.error?.allowed, CATEGORIES, 'the allowed categories')
      t.equal(r.body.error?.value, category)
      t.equal(r.body.permit, undefined, 'no decision')
    }
    t.same((await ask('mental_health')).body, { permit: false, reason: 'SENSITIVE_NOT_NAMED' }, 'the real word gets its real answer')
    t.match((await ask('labs')).body, { permit: true, reason: 'CONSENT_GRANTED' })
    const purpose = await ask('labs', 'treat')
    t.equal(purpose.status, 400)
    t.equal(purpose.body.error?.code, 'API_BAD_PURPOSE')
    t.equal((await ask('labs', 'TREAT', 'READ')).body.error?.code, 'API_BAD_ACTION')
  })

  await t.test('the audit trail: newest first, stable cursors while accesses commit, bounded limits', async t => {
    const first = await accesses(provider, patient.publicKey, 12)
    const top = (await getJson(`/v1/patients/${patientId}/audit?limit=5`)).body as AuditPage
    t.equal(top.entries.length, 5)
    t.equal(top.entries[0].txId, first[first.length - 1], 'the newest access comes first')
    t.type(top.next, 'string')
    const snapshot = ((await getJson(`/v1/patients/${patientId}/audit?limit=1000`)).body as AuditPage).entries.map(e => e.cursor)
    // Walk back in pages of 4 while more accesses commit between the reads.
    const seen: string[] = []
    let page = (await getJson(`/v1/patients/${patientId}/audit?limit=4`)).body as AuditPage
    let grew = 0
    for (;;) {
      seen.push(...page.entries.map(e => e.cursor))
      if (page.next === null) break
      if (grew < 2) { await accesses(provider, patient.publicKey, 3); grew++ }
      page = (await getJson(`/v1/patients/${patientId}/audit?limit=4&before=${page.next}`)).body as AuditPage
    }
    t.same(seen, snapshot, 'the walk returns the trail as it was, each entry once, in order')
    t.equal(page.entries.at(-1)?.type, 'patient.registered', 'down to the registration')
    const newer = (await getJson(`/v1/patients/${patientId}/audit?after=${snapshot[0]}&limit=1000`)).body as AuditPage
    t.equal(newer.entries.length, 6, 'after the newest cursor seen: exactly the accesses that arrived meanwhile')
    for (const limit of ['0', '1001', 'x']) {
      const r = await getJson(`/v1/patients/${patientId}/audit?limit=${limit}`)
      t.equal(r.status, 400, `limit=${limit}`)
      t.equal(r.body.error?.code, 'API_BAD_REQUEST')
    }
    const badCursor = await getJson(`/v1/patients/${patientId}/audit?before=000000000001/000000`)
    t.equal(badCursor.body.error?.code, 'API_BAD_CURSOR')
    t.equal((await getJson(`/v1/patients/${patientId}/consents?after=1-2`)).body.error?.code, 'API_BAD_CURSOR')

    // The CLI follows `next` to the end.
    const all = await runCli('query', 'audit', patientId, '--limit', '5', '--all', '--key', patientKeyFile)
    t.equal(all.status, 0, all.err)
    const printed = JSON.parse(all.out) as AuditPage
    const current = ((await getJson(`/v1/patients/${patientId}/audit?limit=1000`)).body as AuditPage).entries.map(e => e.cursor)
    t.same(printed.entries.map(e => e.cursor), current, 'query audit --all prints the whole trail, newest first')
    t.equal(printed.next, null)
    const one = JSON.parse((await runCli('query', 'consents', patientId, '--limit', '1', '--key', patientKeyFile)).out)
    t.equal(one.consents.length, 1)
    t.match(one.consents[0], { status: 'active', cursor: /^\d+-[0-9a-f]{64}$/ })
  })

  await t.test('a failed transaction shows its reason', async t => {
    // A read-only grant: the provider's record anchor is refused for want of write.
    const denied = await client.send('record.anchor', { patient: patient.publicKey, category: 'labs', hash: new Uint8Array(32).fill(7), locator: 's3://x/1', purpose: 'TREAT' }, provider, { wait: true })
    t.equal(denied.code, 'WRITE_DENIED')
    const info = (await getJson(`/v1/txs/${denied.id}`)).body
    t.match(info, { status: 'committed', code: 'WRITE_DENIED', log: 'ACTION_NOT_GRANTED' }, 'GET /v1/txs/{id} carries the reason')
    const ok = (await getJson(`/v1/txs/${(await client.send('patient.register', {}, fastSigner(generateSeed()), { wait: true })).id}`, client)).body
    t.equal(ok.code, 'OK')
    t.notOk('log' in ok, 'a success has no reason')
  })
})
