// Private free text on a real validator (issue 13 item 4): the CLI seals a break-glass reason
// written in clear to the patient and to the emergency physician's organisation; the block
// holds only the boxes; the patient's CLI prints the plain text, the organisation's key opens
// its box, and the API itself serves no plain text.
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { toHex, utf8 } from '../../codec/index.js'
import { decodeBlock } from '../../consensus/index.js'
import { generateSeed, openSealedText, publicKeyFromSeed, writeKeyFile } from '../../crypto/index.js'
import { decodeTx, fastSigner, type TxBody } from '../../ledger/index.js'
import { genesisHash, readGenesis } from '../../node/genesis.js'
import { openChainStore } from '../../storage/index.js'
import { Cluster, MAIN } from './cluster.js'

const cluster = new Cluster(1)
t.teardown(async () => { await cluster.stopAll() })
const node = cluster.nodes[0]
const member = node.client

const seeds = { patient: generateSeed(), er: generateSeed() }
const patientId = toHex(publicKeyFromSeed(seeds.patient))
const REASON = 'found unconscious, suspected opioid overdose'

/** Runs the medchain CLI; resolves with its exit code and output. */
async function cli (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''; let stderr = ''
    p.stdout.on('data', d => { stdout += String(d) })
    p.stderr.on('data', d => { stderr += String(d) })
    p.once('error', reject)
    p.once('exit', code => resolve({ code, stdout, stderr }))
  })
}

t.before(async () => {
  await cluster.startAll()
  const ok = (what: string, r: Record<string, unknown>): void => { if (r.code !== 'OK') throw new Error(`${what}: ${JSON.stringify(r)}`) }
  ok('er', await member.send('provider.register', { key: publicKeyFromSeed(seeds.er), role: 'emergency_physician', name: 'ER' }, fastSigner(node.seed), { wait: true }))
  ok('patient', await member.as(seeds.patient).send('patient.register', {}, fastSigner(seeds.patient), { wait: true }))
})

t.test('a break-glass reason written in clear is sealed by the CLI; the block holds the boxes; the patient\'s CLI prints it', async t => {
  const dir = t.testdir()
  const erFile = join(dir, 'er.json'); writeKeyFile(erFile, seeds.er)
  const patientFile = join(dir, 'patient.json'); writeKeyFile(patientFile, seeds.patient)

  const sent = await cli('tx', 'access.break_glass', '--key', erFile, '--node', node.api, '--wait',
    '--body', JSON.stringify({ patient: patientId, purpose: 'ETREAT', reason: REASON, durationMs: 3_600_000 }))
  t.equal(sent.code, 0, sent.stderr)
  const res = JSON.parse(sent.stdout) as { id: string, code: string, height: number }
  t.equal(res.code, 'OK')
  t.notMatch(sent.stdout, /opioid/, 'the CLI\'s answer carries no plain text')

  // The API serves the boxes: the patient's own read without opening them has no plain text.
  const served = await member.as(seeds.patient).get<unknown[]>(`/v1/patients/${patientId}/break-glass`)
  t.notMatch(JSON.stringify(served), /opioid/, 'the API answer is sealed')
  t.match(served, [{ reason: { sealed: [{ to: /^[0-9a-f]{64}$/, box: /^[0-9a-f]+$/ }] } }])

  // The patient's CLI opens what its key can open.
  const read = await cli('query', 'break-glass', patientId, '--key', patientFile, '--node', node.api)
  t.equal(read.code, 0, read.stderr)
  const events = JSON.parse(read.stdout) as Array<{ reason: unknown, org: string }>
  t.same(events.map(e => e.reason), [REASON], 'the patient reads the reason in plain text')

  // The block as stored on disk: the sealed boxes are in it, the reason is not.
  await cluster.stopAll()
  const genesis = readGenesis(join(node.home, 'genesis.json'))
  const store = await openChainStore(join(node.home, 'data'), { chainId: genesis.chainId, genesisHash: genesisHash(genesis) })
  t.teardown(async () => { await store.close() })
  const blockBytes = await store.blocks.get(res.height)
  t.ok(blockBytes !== undefined, `block ${res.height} is stored`)
  t.equal(Buffer.from(blockBytes!).indexOf(Buffer.from(utf8('opioid'))), -1, 'no word of the reason in the block bytes')
  const txBytes = decodeBlock(blockBytes!).txs.find(b => decodeTx(b, genesis.chainId).idHex === res.id)
  t.ok(txBytes !== undefined, 'the break-glass transaction is in the block')
  const body = decodeTx(txBytes!, genesis.chainId).tx.body as TxBody<'access.break_glass'>
  const memberKey = toHex(node.publicKey)
  t.same(body.reason.sealed.map(b => toHex(b.to)).sort(), [patientId, memberKey].sort(), 'sealed to the patient and to the physician\'s organisation')
  for (const box of body.reason.sealed) t.ok(Buffer.from(blockBytes!).indexOf(Buffer.from(box.box)) !== -1, `the box for ${toHex(box.to).slice(0, 8)} is in the block`)
  t.equal(openSealedText(body.reason, seeds.patient), REASON, 'the patient\'s key opens its box from the block')
  t.equal(openSealedText(body.reason, node.seed), REASON, 'the organisation\'s key opens its box')
  t.equal(openSealedText(body.reason, seeds.er), null, 'a key it was not sealed to opens nothing')
})
