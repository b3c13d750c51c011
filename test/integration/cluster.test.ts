// Four validator processes on 127.0.0.1: agreement on hash and state root at every
// height, survival of one SIGKILL, halt without fork at two, catch-up after restart,
// a non-member refused, and a transaction sent to all four committed once.
import t from 'tap'
import { toHex } from '../../codec/index.js'
import { generateSeed, publicKeyFromSeed } from '../../crypto/index.js'
import { fastSigner, buildTx } from '../../ledger/index.js'
import { createP2PHost } from '../../p2p/index.js'
import { genesisHash, readGenesis } from '../../node/genesis.js'
import { fromHex } from '../../codec/index.js'
import { join } from 'node:path'
import { Cluster } from './cluster.js'
import { sleep, waitFor } from '../wait.js'

const cluster = new Cluster(4)
// Seven multi-process tests that each wait for positive signs, on a shared 2-core machine: more than tap's 300 s default.
t.setTimeout(10 * 60 * 1000)
t.teardown(async () => { await cluster.stopAll() })

async function agree (t: Tap.Test, nodes: number[], upTo: number): Promise<void> {
  const chains = await Promise.all(nodes.map(async i => await cluster.chain(i, upTo)))
  for (const i of nodes.slice(1)) t.same(chains[nodes.indexOf(i)], chains[0], `node${i} has node${nodes[0]}'s block hash and state root at heights 1..${upTo}`)
}

async function commitPatients (node: number, count: number): Promise<string[]> {
  const client = cluster.nodes[node].client
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const r = await client.send('patient.register', {}, fastSigner(generateSeed()), { nonce: 0 })
    ids.push(r.id)
  }
  return ids
}

/** One sample of a node's /metrics, e.g. `medchain_consensus_step` or `medchain_p2p_messages_received_total{topic="consensus"}`. */
async function metric (node: number, series: string): Promise<number> {
  const text = await (await fetch(cluster.nodes[node].metrics)).text()
  const line = text.split('\n').find(l => l.startsWith(series + ' '))
  if (line === undefined) throw new Error(`node${node}: no ${series} in /metrics`)
  return Number(line.slice(series.length + 1))
}

async function waitCommitted (node: number, ids: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const id of ids) {
    for (;;) {
      try {
        const tx = await cluster.nodes[node].client.get<{ status: string }>(`/v1/txs/${id}`)
        if (tx.status === 'committed') break
      } catch {}
      if (Date.now() > deadline) throw new Error(`tx ${id} not committed on node${node}`)
      await sleep(200)
    }
  }
}

t.test('four validators commit transactions submitted to any of them and agree', async t => {
  await cluster.startAll()
  const ids = [...await commitPatients(0, 5), ...await commitPatients(2, 5)]
  for (const n of [0, 1, 2, 3]) await waitCommitted(n, ids)
  const h = Math.min(...await Promise.all([0, 1, 2, 3].map(async i => await cluster.height(i))))
  await agree(t, [0, 1, 2, 3], h)
})

t.test('a transaction submitted to all four is committed exactly once', async t => {
  const tx = buildTx('patient.register', {}, { chainId: cluster.chainId, signer: fastSigner(generateSeed()), nonce: 0 })
  const results = await Promise.allSettled(cluster.nodes.map(async n => await n.client.submit(tx.bytes)))
  t.ok(results.some(r => r.status === 'fulfilled'), 'accepted by at least one node')
  for (const r of results) if (r.status === 'rejected') t.match((r.reason as { code: string }).code, /MEMPOOL_DUPLICATE|TX_STALE_NONCE/, 'the others know it already')
  const id = toHex(tx.id)
  await waitCommitted(0, [id])
  const loc = await cluster.nodes[0].client.get<{ height: number, index: number }>(`/v1/txs/${id}`)
  // Scan a few blocks after it: the same bytes are in no other block.
  await cluster.waitHeight(0, loc.height + 3)
  let copies = 0
  for (let h = Math.max(1, loc.height - 3); h <= loc.height + 3; h++) {
    const b = await cluster.nodes[0].client.get<{ txs: string[] }>(`/v1/blocks/${h}`)
    copies += b.txs.filter(x => x === id).length
  }
  t.equal(copies, 1, 'exactly one copy on chain')
})

t.test('kill -9 one validator: the other three keep committing; restarted, it catches up', async t => {
  await cluster.kill(3)
  const h0 = await cluster.height(0)
  const ids = await commitPatients(1, 5)
  await waitCommitted(0, ids)
  t.ok(await cluster.waitHeight(0, h0 + 3) >= h0 + 3, 'three of four keep committing')
  cluster.start(3)
  await cluster.waitHealthy(3)
  const target = await cluster.height(0)
  await cluster.waitHeight(3, target, 60_000)
  await agree(t, [0, 3], target)
})

t.test('kill two of four: no block is committed; restart one and commits resume', async t => {
  await cluster.kill(2)
  await cluster.kill(3)
  // Positive sign that the survivors are stuck: both have voted at the next height (step
  // prevote or later), which with a quorum ends in a commit within milliseconds.
  const stuck = await cluster.height(0)
  await waitFor('both survivors voting at the next height', 60_000, async () => (await Promise.all([0, 1].map(async i => await metric(i, 'medchain_consensus_step')))).every(step => step >= 1), 200)
  await commitPatients(0, 2)
  await waitFor('the transactions in node0\'s mempool', 10_000, async () => (await cluster.nodes[0].client.get<{ mempool: { txs: number } }>('/v1/status')).mempool.txs >= 2, 200)
  // And node1's votes keep arriving at node0 (re-sent every 2 s while nothing progresses):
  // everything two validators can tell each other, they told, and still no block.
  const heard = await metric(0, 'medchain_p2p_messages_received_total{topic="consensus"}')
  await waitFor('node0 to receive more consensus messages from node1', 30_000, async () => await metric(0, 'medchain_p2p_messages_received_total{topic="consensus"}') >= heard + 4, 200)
  t.ok(await cluster.height(0) <= stuck + 1, `no progress without quorum (height ${stuck} → ${await cluster.height(0)})`)
  t.equal(await cluster.height(1), await cluster.height(0), 'the two survivors agree')
  cluster.start(2)
  await cluster.waitHealthy(2)
  const after = await cluster.waitHeight(0, stuck + 3, 60_000)
  t.ok(after >= stuck + 3, 'commits resume with three of four')
  await cluster.waitHeight(2, after, 60_000)
  await agree(t, [0, 1, 2], after)
})

t.test('SIGSTOP one validator for 8 s: the others change round and keep going; SIGCONT and it catches up', async t => {
  cluster.start(3)
  await cluster.waitHealthy(3)
  await cluster.waitHeight(3, await cluster.height(0), 60_000)
  const paused = cluster.nodes[1].proc
  if (paused === null) throw new Error('node1 not running')
  const h0 = await cluster.height(0)
  paused.kill('SIGSTOP')
  try {
    await commitPatients(0, 3)
    t.ok(await cluster.waitHeight(0, h0 + 3, 60_000) >= h0 + 3, 'three of four commit while one is frozen, including heights it should propose')
  } finally {
    paused.kill('SIGCONT')
  }
  const target = await cluster.height(0)
  await cluster.waitHeight(1, target, 60_000)
  await agree(t, [0, 1, 2, 3], target)
})

t.test('a node whose key is not in genesis is refused by every member', async t => {
  const genesis = readGenesis(join(cluster.nodes[0].home, 'genesis.json'))
  const outsiderSeed = generateSeed()
  const notMemberRefusals = async (node: number): Promise<number> => {
    const text = await (await fetch(cluster.nodes[node].metrics)).text()
    return Number(/^medchain_p2p_messages_dropped_total\{topic="p2p",reason="not_member"\} (\d+)$/m.exec(text)?.[1] ?? 0)
  }
  const refusedBefore = await Promise.all([0, 1].map(notMemberRefusals))
  const outsider = await createP2PHost({
    seed: outsiderSeed,
    listen: { host: '127.0.0.1', port: 0 },
    chainId: genesis.chainId,
    genesisHash: genesisHash(genesis),
    // The outsider lists itself as a member so its own gater lets it dial.
    members: [...genesis.validators.map(v => ({ publicKey: fromHex(v.publicKey, 32), multiaddr: v.p2p })), { publicKey: publicKeyFromSeed(outsiderSeed) }],
    handlers: { onTxBatch: () => {}, onConsensusMessage: () => {}, onSyncRequest: async () => ({ blocks: [] }) }
  })
  try {
    // Positive sign: members 0 and 1 have each refused the outsider (a not_member drop).
    await waitFor('members 0 and 1 to refuse the outsider', 30_000, async () => (await Promise.all([0, 1].map(async i => await notMemberRefusals(i)))).every((n, k) => n > refusedBefore[k]), 200)
    const seen = await Promise.all([0, 1].map(async i => (await cluster.status(i)).peers))
    for (const peers of seen) t.notOk(peers.includes(outsider.peerId), 'outsider is not among the peers of a member')
    t.equal(outsider.connectedMembers().length, 0, 'the outsider verified no member')
  } finally {
    await outsider.stop()
  }
})

t.test('a validator started with another genesis refuses to join, with a clear message', async t => {
  const { cpSync, readFileSync, writeFileSync, mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  await cluster.kill(3)
  // Same key and ports, but a genesis that differs in one field: another chain.
  const home = join(mkdtempSync(join(tmpdir(), 'medchain-wrong-')), 'node3')
  cpSync(cluster.nodes[3].home, home, { recursive: true, filter: src => !src.includes('/data') })
  const g = JSON.parse(readFileSync(join(home, 'genesis.json'), 'utf8'))
  g.genesisTime += 1
  writeFileSync(join(home, 'genesis.json'), JSON.stringify(g))
  const original = cluster.nodes[3].home
  cluster.nodes[3].home = home
  try {
    cluster.start(3)
    await cluster.waitHealthy(3)
    // Positive sign: it has handshaken with each of the three members and refused each one.
    const refusedPeers = (): number => new Set(cluster.logTail(3, 500).split('\n').filter(l => /another genesis/.test(l)).map(l => /"peer":"([^"]+)"/.exec(l)?.[1] ?? l)).size
    await waitFor('node3 to refuse all three members for their genesis', 30_000, () => refusedPeers() >= 3, 200).catch(() => {})
    t.equal(refusedPeers(), 3, 'it refused each member')
    t.equal(await cluster.height(3), 0, 'it commits nothing')
    t.equal((await cluster.status(3)).peers.length, 0, 'no member accepts it as a peer')
    t.match(cluster.logTail(3, 200), /another genesis/, 'its log says why')
  } finally {
    await cluster.kill(3)
    cluster.nodes[3].home = original
  }
})
