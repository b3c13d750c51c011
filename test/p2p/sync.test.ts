import t from 'tap'
import { utf8, u64be, concatBytes, encode, toHex } from '../../codec/index.js'
import { encodeFrame, P2PError } from '../../p2p/index.js'
import { startCluster, stopAll, type Node } from './cluster.js'
import { waitFor, sleep } from '../wait.js'

const SYNC = '/medchain/medchain-test/sync/1'

async function rawExchange (from: Node, to: Node, bytes: Uint8Array): Promise<Uint8Array> {
  const stream = await from.host.libp2p.dialProtocol(to.host.libp2p.peerId, SYNC)
  stream.send(bytes)
  const chunks: Uint8Array[] = []
  try {
    for await (const c of stream) chunks.push(c instanceof Uint8Array ? c : c.subarray())
  } catch {}
  return concatBytes(...chunks)
}

t.test('block sync: ranges, bounds, typed errors, hostile input', async t => {
  const nodes = await startCluster(2, { limits: { sync: { maxBlocksPerRequest: 64, maxResponseBytes: 256 * 1024, maxItemBytes: 128 * 1024, timeoutMs: 3_000 } } })
  t.teardown(async () => { await stopAll(nodes) })
  const [a, b] = nodes
  for (let h = 1; h <= 100; h++) b.rec.blocks.set(h, concatBytes(utf8('block'), u64be(h), new Uint8Array(1000).fill(h % 256)))

  const got = await a.host.requestBlocks(b.host.peerId, 10, 20)
  t.equal(got.length, 11, 'eleven blocks')
  t.ok(got.every((blk, i) => Buffer.from(blk).equals(Buffer.from(b.rec.blocks.get(10 + i)!))), 'exact bytes, in order')
  t.same((await a.host.requestBlocks(b.host.peerId, 95, 110)).map(toHex), [...Array(6).keys()].map(i => toHex(b.rec.blocks.get(95 + i)!)), 'served only what exists')
  t.same(await a.host.requestBlocks(b.host.peerId, 500, 510), [], 'nothing beyond the tip')

  // a response is bounded in bytes: the server stops early and the client asks again
  for (let h = 200; h < 240; h++) b.rec.blocks.set(h, new Uint8Array(20_000).fill(1))
  const partial = await a.host.requestBlocks(b.host.peerId, 200, 239)
  t.ok(partial.length > 0 && partial.length < 40, `byte bound cuts the response (${partial.length} of 40)`)
  t.ok(partial.length * 20_000 <= 256 * 1024)

  await t.rejects(a.host.requestBlocks(b.host.peerId, 1, 65), { code: 'P2P_SYNC_BAD_REQUEST' }, 'too many blocks per request')
  await t.rejects(a.host.requestBlocks(b.host.peerId, 9, 3), { code: 'P2P_SYNC_BAD_REQUEST' }, 'empty range')
  await t.rejects(a.host.requestBlocks('12D3KooWNotConnected', 1, 2), { code: 'P2P_NOT_CONNECTED' })

  // an item over the item limit is refused by the server with a typed error
  b.rec.blocks.set(300, new Uint8Array(200 * 1024))
  const err = await a.host.requestBlocks(b.host.peerId, 300, 300).catch(e => e)
  t.ok(err instanceof P2PError, 'typed error')
  t.equal(err.code, 'P2P_SYNC_REMOTE_ERROR')
  t.equal(err.value, 'P2P_SYNC_TOO_LARGE')

  // garbage request bytes: a typed error frame back, counted, server unharmed
  const before = b.host.counters().dropped.bad_sync_request ?? 0
  const reply = await rawExchange(a, b, encodeFrame(utf8('this is not CBOR at all')))
  t.equal(reply[1], 2, 'an ERROR frame (tag 2) comes back')
  t.equal(b.host.counters().dropped.bad_sync_request, before + 1, 'counted as bad_sync_request')
  // a well-formed CBOR request with an unknown field
  await rawExchange(a, b, encodeFrame(encode({ from: 1, to: 2, evil: 1 })))
  t.equal(b.host.counters().dropped.bad_sync_request, before + 2)
  // a huge length prefix: dropped as frame_too_large
  await rawExchange(a, b, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3))
  t.equal(b.host.counters().dropped.frame_too_large, 1, 'oversize frame counted')
  // a stream that never sends a request: the server times it out
  const idle = await a.host.libp2p.dialProtocol(b.host.libp2p.peerId, SYNC)
  await sleep(10)
  idle.abort(new Error('bye'))

  // and a client-side bound: a response larger than the client accepts is refused
  t.equal((await a.host.requestBlocks(b.host.peerId, 1, 3)).length, 3, 'server still serves')
  t.equal(a.host.connectedMembers().length, 1, 'still connected')
})

t.test('sync client enforces its own bounds on what a server sends', async t => {
  // b serves with generous limits; a accepts at most 100 kB per response and 20 kB per item
  const nodes = await startCluster(2, i => i === 0 ? { limits: { sync: { maxResponseBytes: 100_000, maxItemBytes: 20_000 } } } : {})
  t.teardown(async () => { await stopAll(nodes) })
  const [a, b] = nodes
  for (let h = 1; h <= 10; h++) b.rec.blocks.set(h, new Uint8Array(15_000).fill(h))
  b.rec.blocks.set(11, new Uint8Array(30_000))
  await t.rejects(a.host.requestBlocks(b.host.peerId, 1, 10), { code: 'P2P_SYNC_TOO_LARGE' }, '150 kB response refused')
  t.equal((await a.host.requestBlocks(b.host.peerId, 1, 6)).length, 6, '90 kB accepted')
  await t.rejects(a.host.requestBlocks(b.host.peerId, 11, 11), { code: 'P2P_SYNC_TOO_LARGE' }, 'oversize item refused')
  b.rec.syncHook = async () => { throw new Error('store unavailable') }
  await t.rejects(a.host.requestBlocks(b.host.peerId, 1, 1), { code: 'P2P_SYNC_REMOTE_ERROR', value: 'P2P_SYNC_FAILED' }, 'handler failure is a typed remote error')
  // a server that never answers: typed timeout on the client
  b.rec.syncHook = async () => { await new Promise(() => {}) }
  const t0 = Date.now()
  await t.rejects(a.host.requestBlocks(b.host.peerId, 1, 1, { timeoutMs: 400 }), { code: 'P2P_SYNC_TIMEOUT' })
  t.ok(Date.now() - t0 < 10_000, `timed out, did not hang (${Date.now() - t0} ms)`)
  t.equal(b.host.counters().dropped.sync_handler_error, 1)
})
