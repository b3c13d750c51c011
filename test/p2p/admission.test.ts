import t from 'tap'
import { multiaddr } from '@multiformats/multiaddr'
import { generateSeed, publicKeyFromSeed, sha256 } from '../../crypto/index.js'
import { toHex, utf8 } from '../../codec/index.js'
import { startCluster, startNode, stopAll, addressOf, GENESIS, type Node } from './cluster.js'
import { waitFor, sleep } from '../wait.js'

t.test('a non-member key is refused by every member (seen from the members\' side)', async t => {
  const nodes = await startCluster(3)
  const live: Node[] = [...nodes]
  t.teardown(async () => { await stopAll(live) })
  const connects: string[] = []
  for (const n of nodes) n.host.libp2p.addEventListener('peer:connect', (e) => { connects.push(e.detail.toString()) })

  // The outsider knows every member and their addresses and lists itself as a member too.
  const outsiderSeed = generateSeed()
  const members = [...nodes.map(n => ({ publicKey: n.publicKey, multiaddr: addressOf(n) })), { publicKey: publicKeyFromSeed(outsiderSeed) }]
  const outsider = await startNode({ seed: outsiderSeed, members })
  live.push(outsider)
  // and dials each member explicitly, and tries a sync stream
  for (const n of nodes) {
    try { await outsider.host.libp2p.dial(multiaddr(`${addressOf(n)}/p2p/${n.host.peerId}`)) } catch {}
    try { await outsider.host.libp2p.dialProtocol(multiaddr(`${addressOf(n)}/p2p/${n.host.peerId}`), '/medchain/medchain-test/sync/1') } catch {}
  }
  // Positive sign first: every member has refused the outsider at least once; only then
  // does "no connection" say something.
  await waitFor('every member to count a not_member refusal', 8_000, () => nodes.every(n => (n.host.counters().dropped.not_member ?? 0) >= 1), 20).catch(() => {})
  for (const [i, n] of nodes.entries()) {
    t.notOk(connects.includes(outsider.host.peerId), `member ${i}: no peer:connect from the outsider`)
    t.equal(n.host.libp2p.getConnections().filter(c => c.remotePeer.toString() === outsider.host.peerId).length, 0, `member ${i}: no connection`)
    t.notOk(n.host.connectedMembers().some(p => p.peerId === outsider.host.peerId), `member ${i}: not a connected member`)
    t.ok((n.host.counters().dropped.not_member ?? 0) >= 1, `member ${i}: refusal counted`)
    t.equal(n.host.connectedMembers().length, 2, `member ${i}: still connected to the other members`)
  }
  t.equal(outsider.host.connectedMembers().length, 0, 'the outsider has no verified member')
  t.equal(outsider.rec.consensus.length + outsider.rec.txBatches.length, 0, 'the outsider received nothing')
  nodes[0].host.broadcastConsensus(utf8('members only'))
  // Every member got it (the broadcast has reached everyone it will reach): then the outsider's silence counts.
  await waitFor('members still talk', 3_000, () => nodes[1].rec.consensus.length === 1 && nodes[2].rec.consensus.length === 1, 20)
  t.equal(outsider.rec.consensus.length, 0)
})

t.test('a member started with a wrong genesis is disconnected with a clear message', async t => {
  const badSeed = generateSeed()
  const badKey = publicKeyFromSeed(badSeed)
  // the consortium lists the bad node (right key); it was started with another genesis file
  const nodes = await startCluster(3, undefined, [badKey])
  const live: Node[] = [...nodes]
  t.teardown(async () => { await stopAll(live) })
  const wrongGenesis = sha256(utf8('some other genesis'))
  const ours = toHex(GENESIS)
  const members = [...nodes.map(n => ({ publicKey: n.publicKey, multiaddr: addressOf(n) })), { publicKey: badKey }]
  const bad = await startNode({ seed: badSeed, genesisHash: wrongGenesis, members })
  live.push(bad)
  await waitFor('mismatch detected', 30_000, () => nodes.every(n => n.rec.events.some(e => e.kind === 'genesis-mismatch')), 20)
  for (const [i, n] of nodes.entries()) {
    const line = n.rec.logs.find(l => l.includes('genesis mismatch'))
    t.ok(line, `member ${i} logged the mismatch`)
    t.match(line ?? '', toHex(wrongGenesis), 'names their genesis hash')
    t.match(line ?? '', ours, 'names our genesis hash')
    t.match(line ?? '', bad.host.peerId, 'names the peer')
    const ev = n.rec.events.find(e => e.kind === 'genesis-mismatch')
    t.same(ev, { kind: 'genesis-mismatch', peer: { ...ev?.peer }, theirGenesisHash: toHex(wrongGenesis), ourGenesisHash: ours }, 'event carries both hashes')
    t.notOk(n.host.connectedMembers().some(p => p.peerId === bad.host.peerId), `member ${i} did not admit it`)
    t.ok((n.host.counters().dropped.genesis_mismatch ?? 0) >= 1, 'counted')
  }
  await waitFor('bad node log', 30_000, () => bad.rec.logs.some(l => l.includes('genesis mismatch') && l.includes(toHex(wrongGenesis)) && l.includes(ours)), 20)
  t.ok(bad.rec.logs.some(l => l.includes('genesis mismatch') && l.includes(toHex(wrongGenesis)) && l.includes(ours)), 'the bad node says why it cannot join')
  await waitFor('connections closed', 30_000, () => nodes.every(n => n.host.libp2p.getConnections().every(c => c.remotePeer.toString() !== bad.host.peerId)), 20)
  await sleep(1_500) // past the test's 1 s max redial backoff: the 60 s refusal backoff holds
  for (const n of nodes) {
    t.equal(n.host.libp2p.getConnections().filter(c => c.remotePeer.toString() === bad.host.peerId).length, 0, 'no connection to the wrong-genesis node')
  }
  t.equal(bad.host.connectedMembers().length, 0)
  nodes[0].host.broadcastConsensus(utf8('after refusal'))
  await waitFor('members still talk', 3_000, () => nodes[1].rec.consensus.length === 1, 20)
  t.equal(bad.rec.consensus.length, 0, 'wrong-genesis node gets no consensus traffic')
})
