// One validator as a real process: transactions over HTTP, kill -9, restart from disk,
// and a damaged store refused at start.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { toHex } from '../../codec/index.js'
import { generateSeed, publicKeyFromSeed } from '../../crypto/index.js'
import { fastSigner } from '../../ledger/index.js'
import { Cluster, MAIN } from './cluster.js'

const cluster = new Cluster(1)
t.teardown(async () => { await cluster.stopAll() })

const member = fastSigner(cluster.nodes[0].seed)
const patientSeed = generateSeed()
const patient = fastSigner(patientSeed)
const provider = fastSigner(generateSeed())
const patientId = toHex(publicKeyFromSeed(patientSeed))
const client = cluster.nodes[0].client
// The patient's own view: reads of their consents and trail are signed with their key.
const asPatient = client.as(patientSeed)
const DAY = 86_400_000

t.test('a grant submitted over HTTP shows in consents and audit, survives kill -9', async t => {
  await cluster.startAll()
  t.equal((await client.send('patient.register', {}, patient, { wait: true })).code, 'OK')
  t.equal((await client.send('provider.register', { key: provider.publicKey, role: 'physician', name: 'Dr Ada' }, member, { wait: true })).code, 'OK')
  const now = Date.now()
  const grant = await client.send('consent.grant', {
    grantee: { type: 'provider', key: provider.publicKey }, categories: ['labs'], actions: ['read'], purposes: ['TREAT'], validFrom: now - DAY, validUntil: now + 90 * DAY
  }, patient, { wait: true })
  t.equal(grant.code, 'OK')
  const permitted = await client.send('access.log', { patient: publicKeyFromSeed(patientSeed), category: 'labs', action: 'read', purpose: 'TREAT' }, provider, { wait: true })
  t.equal(permitted.code, 'OK')
  const denied = await client.send('access.log', { patient: publicKeyFromSeed(patientSeed), category: 'mental_health', action: 'read', purpose: 'TREAT' }, provider, { wait: true })
  t.equal(denied.code, 'OK', 'a denied access is still recorded')

  const consents = await asPatient.get<{ consents: Array<{ status: string }> }>(`/v1/patients/${patientId}/consents`)
  t.equal(consents.consents.length, 1)
  t.equal(consents.consents[0].status, 'active')
  const audit = await asPatient.get<{ entries: Array<{ type: string, permit?: boolean, reason?: string }> }>(`/v1/patients/${patientId}/audit`)
  const accesses = audit.entries.filter(e => e.type === 'access')
  t.same(accesses.map(e => e.permit), [false, true], 'permit and deny both in the audit trail (newest first)')
  const decision = await asPatient.get<{ permit: boolean, reason: string }>(`/v1/decision?patient=${patientId}&grantee=${toHex(provider.publicKey)}&category=labs&action=read&purpose=TREAT`)
  t.equal(decision.permit, true)

  // Replay: the same signed bytes again are refused (nonce used), and nothing changes.
  // It is turned away before its signature is verified: a replay flood costs no verifications.
  const txVerifications = async (): Promise<number> => {
    const text = await (await fetch(cluster.nodes[0].metrics)).text()
    return Number(/^medchain_crypto_signature_verifications_total\{what="tx"\} (\d+)$/m.exec(text)?.[1] ?? NaN)
  }
  const verifiedBefore = await txVerifications()
  const again = await client.build('patient.register', {}, patient, 0)
  await t.rejects(client.submit(again.bytes), { code: 'TX_STALE_NONCE' })
  t.equal(await txVerifications(), verifiedBefore, `no signature verified for the replay (${verifiedBefore} before and after)`)
  t.ok(verifiedBefore > 0, 'the counter is live')

  const before = await cluster.status(0)
  const answersBefore = [consents, audit, decision]
  await cluster.kill(0)
  cluster.start(0)
  await cluster.waitHealthy(0)
  const after = await cluster.status(0)
  t.ok(after.height >= before.height, `height ${after.height} >= ${before.height} after restart`)
  const b = await client.get<{ hash: string, header: { stateRoot: string } }>(`/v1/blocks/${before.height}`)
  t.equal(b.hash, before.latestBlockHash, 'same block hash at the old head')
  t.equal(b.header.stateRoot, before.stateRoot, 'same state root at the old head')
  const answersAfter = [
    await asPatient.get(`/v1/patients/${patientId}/consents?at=${(consents as unknown as { time: number }).time}`),
    await asPatient.get(`/v1/patients/${patientId}/audit`),
    await client.get(`/v1/decision?patient=${patientId}&grantee=${toHex(provider.publicKey)}&category=labs&action=read&purpose=TREAT`)
  ]
  t.same(answersAfter, answersBefore, 'same answers after restart')
  // and it keeps committing
  await cluster.waitHeight(0, after.height + 2)
})

t.test('a receipt verifies offline against genesis, and a tampered one does not', async t => {
  const { writeFileSync } = await import('node:fs')
  const { verifyDocument } = await import('../../cli/commands/verify.js')
  const id = (await client.send('patient.register', {}, fastSigner(generateSeed()), { wait: true })).id
  await cluster.waitHeight(0, (await cluster.height(0)) + 1)
  const receipt = await client.get<Record<string, unknown> & { tx: string, result: string, header: Record<string, unknown> }>(`/v1/txs/${id}/receipt`)
  const genesis = join(cluster.nodes[0].home, 'genesis.json')
  const file = join(cluster.dir, 'receipt.json')
  writeFileSync(file, JSON.stringify(receipt))
  const ok = spawnSync(process.execPath, [MAIN, 'verify', file, '--genesis', genesis], { encoding: 'utf8' })
  t.equal(ok.status, 0, ok.stderr)
  t.match(JSON.parse(ok.stdout), { valid: true, type: 'tx', facts: { txId: id, code: 'OK' }, statement: new RegExp(`^patient.register ${id} was committed at height \\d+ .* with result OK; 1 audit entry .*; signed by 1 of 1 validators$`) })
  const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1)
  t.throws(() => verifyDocument({ ...receipt, tx: flip(receipt.tx) }, genesis), { code: 'PROOF_BAD_TX_PROOF' })
  t.throws(() => verifyDocument({ ...receipt, result: flip(receipt.result) }, genesis), { code: 'PROOF_BAD_RESULT_PROOF' })
  t.throws(() => verifyDocument({ ...receipt, header: { ...receipt.header, txCount: 5 } }, genesis), { code: 'PROOF_BAD_COMMIT' })
  const commit = receipt.commit as { signatures: Array<{ signature: string }> }
  const forged = { ...commit, signatures: commit.signatures.map(s => ({ ...s, signature: flip(s.signature) })) }
  t.throws(() => verifyDocument({ ...receipt, commit: forged }, genesis), { code: 'PROOF_BAD_COMMIT' })
  writeFileSync(file, JSON.stringify({ ...receipt, result: flip(receipt.result) }))
  const bad = spawnSync(process.execPath, [MAIN, 'verify', file, '--genesis', genesis], { encoding: 'utf8' })
  t.equal(bad.status, 1, 'an edited result exits 1')
  t.match(JSON.parse(bad.stdout), { valid: false, code: 'PROOF_BAD_RESULT_PROOF' })
})

t.test('bad input gets a stable code and the node keeps running', async t => {
  const post = async (body: BodyInit, type: string): Promise<{ status: number, code: string }> => {
    const res = await fetch(`${cluster.nodes[0].api}/v1/txs`, { method: 'POST', headers: { 'content-type': type }, body })
    const json = await res.json() as { error: { code: string } }
    return { status: res.status, code: json.error.code }
  }
  t.same(await post(new Uint8Array([0xff, 0x00]), 'application/cbor'), { status: 400, code: 'TX_NON_CANONICAL' })
  t.same(await post(new Uint8Array([0xa1, 0x61]), 'application/cbor'), { status: 400, code: 'TX_MALFORMED' })
  t.same(await post('{"tx": 5}', 'application/json'), { status: 400, code: 'API_BAD_REQUEST' })
  t.same(await post('{"tx": ', 'application/json'), { status: 400, code: 'API_BAD_JSON' })
  t.same(await post('x', 'text/plain'), { status: 415, code: 'API_UNSUPPORTED_MEDIA_TYPE' })
  t.same(await post(new Uint8Array(2 * 1024 * 1024), 'application/cbor'), { status: 413, code: 'API_BODY_TOO_LARGE' })
  const good = await client.build('patient.register', {}, fastSigner(generateSeed()), 0)
  const tampered = good.bytes.slice(); tampered[tampered.length - 1] ^= 1
  t.same(await post(tampered, 'application/cbor'), { status: 400, code: 'TX_BAD_SIGNATURE' })
  const other = (await import('../../ledger/index.js')).buildTx('patient.register', {}, { chainId: 'another-chain', signer: fastSigner(generateSeed()), nonce: 0 })
  t.same(await post(other.bytes, 'application/cbor'), { status: 400, code: 'TX_WRONG_CHAIN' })
  await t.rejects(client.get('/v1/txs/nothex'), { status: 400, code: 'API_BAD_REQUEST' })
  await t.rejects(client.get('/v1/blocks/999999'), { status: 404, code: 'API_NOT_FOUND' })
  t.ok((await cluster.height(0)) > 0, 'still serving')
})

t.test('a damaged store is refused at start with a clear message', async t => {
  await cluster.kill(0)
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(cluster.nodes[0].home, 'data', 'db'), { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  // Delete the bytes of block 1 (bucket 2, height 1): the chain no longer has every block.
  const key = new Uint8Array(9); key[0] = 2; key[8] = 1
  await db.del(key)
  await db.close()
  const res = spawnSync(process.execPath, [MAIN, 'start', '--home', cluster.nodes[0].home], { encoding: 'utf8', timeout: 30_000 })
  t.not(res.status, 0, 'exits non-zero')
  t.match(res.stdout + res.stderr, /STORE_CORRUPT/, 'names the problem')
  t.match(res.stdout + res.stderr, /medchain verify-chain --home /, 'and the command that finds the damage')
})
