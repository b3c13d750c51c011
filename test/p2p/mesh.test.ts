import t from 'tap'
import { toHex, utf8, concatBytes, u64be } from '../../codec/index.js'
import { startCluster, stopAll, type Node } from './cluster.js'
import { waitFor, sleep } from '../wait.js'

t.test('4 members connect fully, gossip tx batches and broadcast consensus messages to all', async t => {
  const nodes = await startCluster(4)
  t.teardown(async () => { await stopAll(nodes) })

  for (const n of nodes) {
    const peers = n.host.connectedMembers().map(p => toHex(p.publicKey)).sort()
    const expected = nodes.filter(x => x !== n).map(x => toHex(x.publicKey)).sort()
    t.same(peers, expected, 'each member sees exactly the other three')
  }

  // gossipsub needs its mesh (subscriptions + a heartbeat) before the first publish
  await waitFor('subscriptions', 5_000, () => nodes.every(n => n.host.libp2p.services.pubsub.getSubscribers(`/medchain/medchain-test/txs/1`).length === 3), 20)
  await sleep(1_100)

  const batches = nodes.map((_, i) => concatBytes(utf8(`batch from ${i} `), new Uint8Array(64 * 250).fill(i)))
  for (let i = 0; i < 4; i++) {
    const recipients = await nodes[i].host.publishTxBatch(batches[i])
    t.ok(recipients >= 1, `batch ${i} published to ${recipients} peers`)
  }
  await waitFor('tx batches', 5_000, () => nodes.every(n => n.rec.txBatches.length === 3), 20)
  for (let i = 0; i < 4; i++) {
    const got = nodes[i].rec.txBatches.map(b => toHex(b.bytes)).sort()
    const expected = batches.filter((_, j) => j !== i).map(toHex).sort()
    t.same(got, expected, `node ${i} got the three other batches, not its own`)
  }

  // tx batches over direct streams (no relaying among a fully meshed validator set)
  for (let i = 0; i < 4; i++) t.equal(nodes[i].host.broadcastTxBatch(concatBytes(utf8(`direct ${i}`), batches[i])), 3)
  await waitFor('direct tx batches', 5_000, () => nodes.every(n => n.rec.txBatches.length === 6), 20)
  for (let i = 0; i < 4; i++) {
    const got = nodes[i].rec.txBatches.slice(3).map(b => toHex(b.bytes)).sort()
    t.same(got, [0, 1, 2, 3].filter(j => j !== i).map(j => toHex(concatBytes(utf8(`direct ${j}`), batches[j]))).sort(), `node ${i} got the direct batches`)
  }
  t.throws(() => nodes[0].host.broadcastTxBatch(new Uint8Array(1024 * 1024 + 1)), { code: 'P2P_TOO_LARGE' })
  await t.rejects(nodes[0].host.publishTxBatch(new Uint8Array(1024 * 1024 + 1)), { code: 'P2P_TOO_LARGE' })

  // duplicates are ignored and counted, never thrown
  t.equal(await nodes[0].host.publishTxBatch(batches[0]), 0, 'duplicate publish reaches nobody')
  t.equal(nodes[0].host.counters().dropped.duplicate_publish, 1, 'duplicate counted')

  // consensus over direct streams: each node sends 50 numbered messages
  for (let k = 0; k < 50; k++) {
    for (let i = 0; i < 4; i++) t.equal(nodes[i].host.broadcastConsensus(concatBytes(Uint8Array.of(i), u64be(k))), 3)
  }
  await waitFor('consensus messages', 5_000, () => nodes.every(n => n.rec.consensus.length === 150), 20)
  for (let i = 0; i < 4; i++) {
    const n = nodes[i]
    for (let j = 0; j < 4; j++) {
      if (j === i) continue
      const fromJ = n.rec.consensus.filter(m => toHex(m.from.publicKey) === toHex(nodes[j].publicKey))
      t.equal(fromJ.length, 50, `node ${i} got 50 messages from ${j}`)
      t.ok(fromJ.every((m, k) => m.bytes[0] === j && m.bytes.length === 9 && m.bytes[8] === k), 'in order, attributed to the sender')
    }
  }

  // targeted send and the gossip fallback for consensus
  t.ok(nodes[0].host.sendConsensus(nodes[1].host.peerId, utf8('only for 1')))
  t.notOk(nodes[0].host.sendConsensus('12D3KooWNotAPeer', utf8('x')), 'unknown peer: false')
  await nodes[2].host.publishConsensus(utf8('consensus via gossip'))
  await waitFor('targeted', 3_000, () => nodes[1].rec.consensus.some(m => new TextDecoder().decode(m.bytes) === 'only for 1'), 20)
  await waitFor('gossip consensus', 3_000, () => [0, 1, 3].every(i => nodes[i].rec.consensus.some(m => new TextDecoder().decode(m.bytes) === 'consensus via gossip')), 20)
  t.notOk(nodes[3].rec.consensus.some(m => new TextDecoder().decode(m.bytes) === 'only for 1'), 'targeted message went to one peer only')

  // heights: advertised, re-exchanged on request
  nodes[3].host.setLocalHeight(42)
  await nodes[0].host.refreshStatus()
  const h = nodes[0].host.peerHeights().find(p => p.peerId === nodes[3].host.peerId)
  t.equal(h?.height, 42, 'peer height after refresh')
  t.throws(() => { nodes[0].host.setLocalHeight(-1) }, { code: 'P2P_BAD_OPTIONS' })
})

t.test('a restarted member (same seed, same port) is reconnected by every other member', async t => {
  const nodes = await startCluster(3)
  const live: Node[] = [...nodes]
  t.teardown(async () => { await stopAll(live) })
  const victim = nodes[2]
  const t0 = Date.now()
  await victim.host.stop()
  t.ok(Date.now() - t0 < 10_000, `stop() does not hang (${Date.now() - t0} ms)`)
  live.pop()
  await waitFor('others notice', 5_000, () => nodes.slice(0, 2).every(n => n.host.connectedMembers().length === 1), 20)
  t.ok(nodes[0].rec.events.some(e => e.kind === 'disconnected' && e.peer.peerId === victim.host.peerId), 'disconnected event')

  await sleep(1_000) // let the redial loop fail a few times and back off
  const { startNode, addressOf } = await import('./cluster.js')
  const members = nodes.map(n => ({ publicKey: n.publicKey, multiaddr: addressOf(n) }))
  const restarted = await startNode({ seed: victim.seed, port: victim.port, members })
  live.push(restarted)
  t.equal(restarted.host.peerId, victim.host.peerId, 'same seed, same PeerId')
  await waitFor('reconnected', 8_000, () => live.every(n => n.host.connectedMembers().length === 2), 20)
  t.ok(live.every(n => n.host.connectedMembers().length === 2), 'reconnected in full mesh after restart')
  t.equal(restarted.host.broadcastConsensus(utf8('back')), 2)
  await waitFor('messages after restart', 3_000, () => nodes.slice(0, 2).every(n => n.rec.consensus.some(m => new TextDecoder().decode(m.bytes) === 'back')), 20)
})
