import t from 'tap'
import { utf8 } from '../../codec/index.js'
import { encodeFrame, encodeFrames, FrameReader } from '../../p2p/index.js'
import { startCluster, stopAll } from './cluster.js'
import { waitFor } from '../wait.js'

t.test('frames: round trip, batching, limits', async t => {
  const payloads = [new Uint8Array(0), utf8('a'), new Uint8Array(127).fill(1), new Uint8Array(128).fill(2), new Uint8Array(70_000).fill(3)]
  const wire = encodeFrames(payloads)
  const single = payloads.map(encodeFrame)
  t.equal(wire.length, single.reduce((n, f) => n + f.length, 0), 'batch = concatenation of single frames')
  const reader = new FrameReader({ maxFrameBytes: 100_000, maxBufferBytes: 1 << 20 })
  const out: Uint8Array[] = []
  // feed one byte at a time: frames split anywhere must reassemble
  for (let i = 0; i < wire.length; i += 997) for (const f of reader.push(wire.subarray(i, i + 997))) out.push(f)
  // zero-length frames carry nothing and are skipped by the decoder
  t.same(out.map(f => f.length), [1, 127, 128, 70_000])
  const small = new FrameReader({ maxFrameBytes: 1000, maxBufferBytes: 4096 })
  t.throws(() => [...small.push(encodeFrame(new Uint8Array(1001)))], { code: 'P2P_TOO_LARGE' })
})

t.test('hostile input on member streams is dropped and counted, never a crash', async t => {
  const nodes = await startCluster(2)
  t.teardown(async () => { await stopAll(nodes) })
  const [a, b] = nodes
  const bId = b.host.libp2p.peerId

  // a consensus-direct stream announcing a 2^34-byte frame
  const s1 = await a.host.libp2p.dialProtocol(bId, '/medchain/medchain-test/consensus-direct/1')
  s1.send(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x40, 0, 0, 0))
  await waitFor('oversize consensus frame counted', 3_000, () => (b.host.counters().dropped.frame_too_large ?? 0) >= 1, 20)
  // a tx-direct stream with a frame just over the 1 MiB batch limit
  const s2 = await a.host.libp2p.dialProtocol(bId, '/medchain/medchain-test/txs-direct/1')
  s2.send(encodeFrame(new Uint8Array(1024 * 1024 + 1)))
  await waitFor('oversize tx frame counted', 3_000, () => (b.host.counters().dropped.frame_too_large ?? 0) >= 2, 20)
  t.equal(b.rec.txBatches.length, 0, 'nothing delivered from the oversize frame')
  // garbage status
  const s3 = await a.host.libp2p.dialProtocol(bId, '/medchain/medchain-test/status/1')
  s3.send(encodeFrame(utf8('{"genesisHash": "nope"}')))
  await waitFor('bad status counted', 3_000, () => (b.host.counters().dropped.bad_status ?? 0) >= 1, 20)
  // an unknown protocol is refused by negotiation
  await t.rejects(a.host.libp2p.dialProtocol(bId, '/medchain/medchain-test/evil/1'))

  // b is unharmed: still delivering on fresh streams, and (after those deliveries, the
  // positive sign that the abuse has been dealt with) still connected
  t.equal(a.host.broadcastConsensus(utf8('still alive')), 1)
  a.host.broadcastTxBatch(utf8('batch still flows'))
  await waitFor('consensus after abuse', 5_000, () => b.rec.consensus.some(m => new TextDecoder().decode(m.bytes) === 'still alive'), 20)
  await waitFor('tx after abuse', 5_000, () => b.rec.txBatches.some(m => new TextDecoder().decode(m.bytes) === 'batch still flows'), 20)
  t.equal(b.host.connectedMembers().length, 1, 'still connected')
  t.ok(b.rec.consensus.some(m => new TextDecoder().decode(m.bytes) === 'still alive') && b.rec.txBatches.some(m => new TextDecoder().decode(m.bytes) === 'batch still flows'), 'delivery continues after hostile input')
})
