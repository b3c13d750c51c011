// Transactions a validator accepts right after a restart, and while it has no peer, are
// committed (issue 10 item 8). Four validator processes; the chain runs longer than a short
// mempool TTL before a validator is killed and restarted, the case in which a restarted node
// once evicted at its first block everything it had just accepted.
import t from 'tap'
import { toHex } from '../../codec/index.js'
import { generateSeed } from '../../crypto/index.js'
import { buildTx, fastSigner } from '../../ledger/index.js'
import { readConfig, writeConfig } from '../../node/config.js'
import { ApiError } from '../../cli/client.js'
import { Cluster, sleep } from './cluster.js'

// Starting four processes and killing them on a shared 2-core machine takes minutes.
t.setTimeout(900_000)

/** Short, so the chain outlives it quickly; long enough for a commit on a loaded machine. */
const TTL_MS = 30_000
/** Heights the chain reaches before the restart: more than TTL_MS at the idle rate of one block a second. */
const CHAIN_ABOVE = 40

const cluster = new Cluster(4)
t.teardown(async () => { await cluster.stopAll() })
for (const n of cluster.nodes) {
  const config = readConfig(n.home)
  config.mempool.ttlMs = TTL_MS
  writeConfig(n.home, config)
}

const peersOf = async (i: number): Promise<number> => (await cluster.status(i)).peers.length

async function waitUntil (what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try { if (await check()) return } catch {}
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await sleep(100)
  }
}

async function txStatus (node: number, id: string): Promise<string> {
  try {
    return (await cluster.nodes[node].client.get<{ status: string }>(`/v1/txs/${id}`)).status
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return 'unknown'
    throw err
  }
}

async function waitCommittedEverywhere (nodes: number[], ids: string[], timeoutMs = 90_000): Promise<void> {
  for (const n of nodes) {
    for (const id of ids) await waitUntil(`tx ${id} committed on node${n}\n${cluster.logTail(n)}`, timeoutMs, async () => await txStatus(n, id) === 'committed')
  }
}

/** A fresh patient registration: a new sender with nonce 0, valid whatever the node's height. */
function freshTx (): { id: string, bytes: Uint8Array } {
  const tx = buildTx('patient.register', {}, { chainId: cluster.chainId, signer: fastSigner(generateSeed()), nonce: 0 })
  return { id: toHex(tx.id), bytes: tx.bytes }
}

/** Submits; the id if the node answered 202 (accepted), null if it refused with a stable code. */
async function submit (node: number, tx: { id: string, bytes: Uint8Array }, refused: string[]): Promise<string | null> {
  try {
    const r = await cluster.nodes[node].client.submit(tx.bytes)
    if (r.status !== 'pending') throw new Error(`unexpected answer ${JSON.stringify(r)}`)
    return tx.id
  } catch (err) {
    if (err instanceof ApiError) { refused.push(err.code); return null }
    throw err
  }
}

t.test(`the chain runs above height ${CHAIN_ABOVE} and for longer than the ${TTL_MS} ms TTL`, async t => {
  await cluster.startAll()
  // Our own processes answer on these ports, not someone else's node that took them.
  for (const [i, n] of cluster.nodes.entries()) {
    const st = await cluster.nodes[i].client.get<{ chainId: string, nodeKey: string }>('/v1/status')
    t.same([st.chainId, st.nodeKey], [cluster.chainId, toHex(n.publicKey)], `node${i} is ours`)
  }
  const h = await cluster.waitHeight(0, CHAIN_ABOVE, 240_000)
  const first = await cluster.nodes[0].client.get<{ header: { time: number } }>('/v1/blocks/1')
  await waitUntil('a block more than TTL_MS after block 1', 120_000, async () =>
    (await cluster.nodes[0].client.get<{ header: { time: number } }>('/v1/blocks/latest')).header.time - first.header.time > TTL_MS)
  t.ok(h >= CHAIN_ABOVE, `height ${h}`)
})

t.test('kill -9 a validator, restart it and submit to it at once: what it accepted outlives its catch-up and is committed on all four', async t => {
  await cluster.kill(3)
  const h0 = await cluster.height(0)
  await cluster.waitHeight(0, h0 + 3) // the three keep committing: the restarted one comes back behind
  // Two of four stay down for now, so nothing commits what node3 accepts before we have looked.
  await Promise.all([0, 1].map(async i => await cluster.kill(i)))
  cluster.start(3)
  const deadline = Date.now() + 90_000
  while (!(await fetch(`${cluster.nodes[3].api}/healthz`).then(r => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error(`node3 not up: ${cluster.logTail(3)}`)
    await sleep(5)
  }
  const behind = await cluster.height(3)
  const accepted: string[] = []
  const refused: string[] = []
  for (let i = 0; i < 20; i++) {
    const id = await submit(3, freshTx(), refused)
    if (id !== null) accepted.push(id)
  }
  t.same(refused, [], 'the restarted node accepts every transaction')
  // node3 catches up from node2 by block sync: every synced block passes through its mempool.
  const target = await cluster.height(2)
  t.ok(target > behind, `node3 restarted at ${behind}, behind node2 at ${target}`)
  await cluster.waitHeight(3, target, 60_000)
  const statuses = await Promise.all(accepted.map(async id => await txStatus(3, id)))
  t.same(statuses, accepted.map(() => 'pending'), `after syncing ${behind} → ${target}, node3 still holds all ${accepted.length} transactions it accepted`)
  for (const id of accepted) await waitUntil(`node2 holds ${id}`, 30_000, async () => await txStatus(2, id) === 'pending')
  t.same(await Promise.all(accepted.map(async id => await txStatus(2, id))), accepted.map(() => 'pending'), 'node3 passed every one of them on to node2')
  cluster.start(0)
  cluster.start(1)
  await Promise.all([0, 1].map(async i => await cluster.waitHealthy(i)))
  await waitCommittedEverywhere([0, 1, 2, 3], accepted)
  for (const i of [0, 1, 2, 3]) t.same(await Promise.all(accepted.map(async id => await txStatus(i, id))), accepted.map(() => 'committed'), `all ${accepted.length} accepted transactions committed on node${i}`)
})

t.test('accepted while it has no peer: offered to each member that connects, committed after the accepting node dies', async t => {
  // node3 alone: every other validator killed, and it sees them gone.
  await Promise.all([0, 1, 2].map(async i => await cluster.kill(i)))
  await waitUntil('node3 has no peer', 30_000, async () => await peersOf(3) === 0)
  const refused: string[] = []
  const accepted: string[] = []
  for (let i = 0; i < 5; i++) {
    const id = await submit(3, freshTx(), refused)
    if (id !== null) accepted.push(id)
  }
  t.same(refused, [], 'a validator without peers accepts: a 202 promises commit unless it dies before passing the tx on')
  t.equal(accepted.length, 5)
  // One member back: two of four cannot commit, so the transactions stay pending where they are.
  cluster.start(0)
  await cluster.waitHealthy(0)
  await waitUntil('node0 connected to node3', 60_000, async () => await peersOf(0) >= 1)
  for (const id of accepted) {
    await waitUntil(`node0 holds ${id} pending (offered by node3 on connect)\n${cluster.logTail(3)}`, 30_000, async () => await txStatus(0, id) === 'pending')
  }
  t.same(await Promise.all(accepted.map(async id => await txStatus(0, id))), accepted.map(() => 'pending'), 'node0 received every transaction node3 accepted while alone')
  // The accepting node dies; the others form a quorum and commit what it passed on.
  await cluster.kill(3)
  cluster.start(1)
  cluster.start(2)
  await Promise.all([1, 2].map(async i => await cluster.waitHealthy(i)))
  await waitCommittedEverywhere([0, 1, 2], accepted)
  for (const i of [0, 1, 2]) t.same(await Promise.all(accepted.map(async id => await txStatus(i, id))), accepted.map(() => 'committed'), `all ${accepted.length} committed on node${i} after node3 was killed`)
})
