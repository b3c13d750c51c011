// Proofs from a real validator process, checked offline; then verify-chain over its data
// directory after thousands of transactions, healthy and after each kind of damage.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { fromHex, toHex, u64be } from '../../codec/index.js'
import { generateSeed, publicKeyFromSeed } from '../../crypto/index.js'
import { decodeBlock, encodeBlock } from '../../consensus/index.js'
import { fastSigner } from '../../ledger/index.js'
import { Cluster, MAIN } from './cluster.js'

// Two long subtests on a shared 2-core machine: more than the 300 s default.
t.setTimeout(1_200_000)
const cluster = new Cluster(1)
t.teardown(async () => { await cluster.stopAll() })
const node = cluster.nodes[0]
const client = node.client
const genesis = join(node.home, 'genesis.json')
const DAY = 86_400_000
const LOAD = Number(process.env.PROOFS_TEST_TXS ?? 2000)

function verifyFile (doc: unknown): { status: number | null, out: Record<string, unknown> } {
  const file = join(cluster.dir, `proof-${Math.random().toString(16).slice(2)}.json`)
  writeFileSync(file, JSON.stringify(doc))
  const r = spawnSync(process.execPath, [MAIN, 'verify', file, '--genesis', genesis], { encoding: 'utf8', timeout: 120_000 })
  if (r.stdout === '') throw new Error(`medchain verify printed nothing: status ${r.status}, signal ${r.signal}, error ${r.error?.message ?? '-'}, stderr ${r.stderr}`)
  return { status: r.status, out: JSON.parse(r.stdout) as Record<string, unknown> }
}

function verifyChain (home: string, ...extra: string[]): { status: number | null, report: Record<string, unknown> & { divergence: { height: number, key: string, code: string } | null }, stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'verify-chain', '--home', home, ...extra], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 })
  if (r.stdout === '') throw new Error(`medchain verify-chain printed nothing: status ${r.status}, signal ${r.signal}, error ${r.error?.message ?? '-'}, stderr ${r.stderr.slice(-2000)}`)
  return { status: r.status, report: JSON.parse(r.stdout), stderr: r.stderr }
}

const patientSeed = generateSeed()
const patient = fastSigner(patientSeed)
const patientId = publicKeyFromSeed(patientSeed)
const provider = fastSigner(generateSeed())
// State proofs and the receipt of an access to the patient are the patient's to read (docs/access-table.md).
const asPatient = client.as(patientSeed)
let grantId = ''

t.test('state proofs from the API verify offline and say what they prove', async t => {
  await cluster.startAll()
  t.equal((await client.send('patient.register', {}, patient, { wait: true })).code, 'OK')
  t.equal((await client.send('provider.register', { key: provider.publicKey, role: 'physician', name: 'Dr Ada' }, fastSigner(node.seed), { wait: true })).code, 'OK')
  const now = Date.now()
  const body = { grantee: { type: 'provider' as const, key: provider.publicKey }, categories: ['labs' as const], actions: ['read' as const], purposes: ['TREAT' as const], validFrom: now - DAY, validUntil: now + 90 * DAY }
  const grant = await client.send('consent.grant', body, patient, { wait: true })
  grantId = grant.id
  const revoke = await client.send('consent.revoke', { grantId: fromHex(grantId, 32) }, patient, { wait: true })
  t.equal(revoke.code, 'OK')
  const revokedAt = revoke.height as number
  await cluster.waitHeight(0, revokedAt + 1)
  const proof = await asPatient.get<Record<string, unknown> & { height: number }>(`/v1/proofs/consent/${toHex(patientId)}/${grantId}`)
  const v = verifyFile(proof)
  t.equal(v.status, 0, JSON.stringify(v.out))
  t.match(v.out.statement, new RegExp(`^consent ${grantId.slice(0, 12)}… of patient ${toHex(patientId).slice(0, 12)}… was revoked at height ${revokedAt} \\(state at height ${proof.height}\\); signed by 1 of 1 validators$`))

  // Re-granted: the old proof under the new head's header fails.
  t.equal((await client.send('consent.grant', body, patient, { wait: true })).code, 'OK')
  await cluster.waitHeight(0, proof.height + 2)
  const later = await asPatient.get<Record<string, unknown>>(`/v1/proofs/patient/${toHex(patientId)}`)
  t.match(verifyFile(later).out.statement, /current key is/)
  const moved = verifyFile({ ...proof, height: later.height, header: later.header, commit: later.commit })
  t.equal(moved.status, 1)
  t.match(moved.out, { valid: false, code: 'PROOF_BAD_STATE_PROOF' })

  const never = await asPatient.get<Record<string, unknown>>(`/v1/proofs/consent/${toHex(patientId)}/${'ab'.repeat(32)}`)
  t.equal(never.value, null)
  t.match(verifyFile(never).out, { valid: true, statement: /does not exist/ })

  const access = await client.send('access.log', { patient: patientId, category: 'mental_health', action: 'read', purpose: 'TREAT' }, provider, { wait: true })
  await cluster.waitHeight(0, (access.height as number) + 1)
  const receipt = await asPatient.get<Record<string, unknown>>(`/v1/proofs/tx/${access.id}`)
  t.match(verifyFile(receipt).out, { valid: true, facts: { code: 'OK', decision: { permit: false } }, statement: /decision deny .*1 audit entry/ })
  const sizes = { stateProof: JSON.stringify(proof).length, absence: JSON.stringify(never).length, receipt: JSON.stringify(receipt).length }
  t.comment(`proof sizes (JSON bytes): ${JSON.stringify(sizes)}`)
})

t.test(`verify-chain passes after ${LOAD} transactions and names height and key after each damage`, async t => {
  const ids: string[] = []
  for (let done = 0; done < LOAD; done += 250) {
    const batch = await Promise.all(Array.from({ length: Math.min(250, LOAD - done) }, async () => await client.build('patient.register', {}, fastSigner(generateSeed()), 0)))
    await Promise.all(batch.map(async b => { ids.push((await client.submit(b.bytes)).id as string) }))
  }
  const last = await client.submit((await client.build('patient.register', {}, fastSigner(generateSeed()), 0)).bytes, { wait: true, timeoutMs: 120_000 })
  // Every submitted transaction committed: the mempool is empty (a positive sign, polled).
  for (let i = 0; i < 600; i++) {
    const s = await client.get<{ mempool: { txs: number } }>('/v1/status')
    if (s.mempool.txs === 0) break
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  t.equal((await client.get<{ status: string }>(`/v1/txs/${ids[ids.length - 1]}`)).status, 'committed')
  await cluster.waitHeight(0, (last.height as number) + 2)
  await cluster.kill(0)

  const healthy = verifyChain(node.home)
  t.equal(healthy.status, 0, healthy.stderr.slice(-2000))
  t.match(healthy.report, { ok: true, divergence: null })
  t.ok((healthy.report.txs as number) >= LOAD, `${healthy.report.txs as number} txs replayed`)
  t.comment(`verify-chain: ${healthy.report.heightsChecked as number} blocks, ${healthy.report.txs as number} txs in ${(healthy.report.seconds as number).toFixed(1)} s: ${Math.round(healthy.report.blocksPerSecond as number)} blocks/s, ${Math.round(healthy.report.txsPerSecond as number)} tx/s`)
  t.match(healthy.stderr, /verify-chain: height \d+\/\d+ \(\d+%\)/, 'shows progress')

  const head = healthy.report.head as number
  const target = ids[Math.floor(ids.length / 2)]
  const damage = async (name: string, fn: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>): Promise<string> => {
    const home = join(cluster.dir, `damaged-${name}`)
    cpSync(node.home, home, { recursive: true })
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(home, 'data', 'db'), { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    try { await fn(db) } finally { await db.close() }
    return home
  }
  const txHeight = (await client.get<{ height: number }>(`/v1/txs/${target}`).catch(() => null))?.height
  t.equal(txHeight, undefined, 'the node is stopped: only the data directory is checked')

  // 1. A flipped byte in a state value (bucket 7).
  const patientKey = `patient/${toHex(patientId)}`
  const flipped = await damage('state', async db => {
    const key = Uint8Array.of(7, ...Buffer.from(patientKey, 'utf8'))
    const v = (await db.get(key))!.slice(); v[v.length - 1] ^= 1
    await db.put(key, v)
  })
  let r = verifyChain(flipped, '--skip-signatures')
  t.equal(r.status, 1)
  t.match(r.report.divergence, { height: head, key: patientKey, code: 'STATE_VALUE_MISMATCH' })
  t.match(r.stderr, new RegExp(`DAMAGE at height ${head}, key ${patientKey}`))

  // 2. A deleted tx-index entry (bucket 6).
  const noIndex = await damage('txindex', async db => { await db.del(Uint8Array.of(6, ...fromHex(target, 32))) })
  r = verifyChain(noIndex, '--skip-signatures')
  t.equal(r.status, 1)
  t.match(r.report.divergence, { key: `txindex ${target}`, code: 'TX_INDEX_MISSING' })
  const indexHeight = r.report.divergence!.height
  t.ok(indexHeight > 0 && indexHeight <= head, `names height ${indexHeight}`)

  // 3. An edited block (bucket 2): its time moved by 1 ms.
  const editedAt = Math.max(2, Math.floor(head / 2))
  const edited = await damage('block', async db => {
    const key = Uint8Array.of(2, ...u64be(editedAt))
    const block = decodeBlock((await db.get(key))!)
    await db.put(key, encodeBlock({ ...block, header: { ...block.header, time: block.header.time + 1 } }))
  })
  r = verifyChain(edited, '--skip-signatures')
  t.equal(r.status, 1)
  t.match(r.report.divergence, { height: editedAt, key: 'block', code: 'BLOCK_HASH_MISMATCH' })

  // 4. A missing commit certificate (bucket 5).
  const uncertified = await damage('commit', async db => { await db.del(Uint8Array.of(5, ...u64be(editedAt))) })
  r = verifyChain(uncertified, '--skip-signatures')
  t.equal(r.status, 1)
  t.match(r.report.divergence, { height: editedAt, key: 'commit', code: 'COMMIT_MISSING' })
})
