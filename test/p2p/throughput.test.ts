// Measures (and prints) what the p2p layer carries between 4 real hosts on loopback.
// Bounds asserted here are far below the measured figures: they catch a broken path
// (e.g. one send() per message, or a stalled queue), not a slow machine.
import t from 'tap'
import { u64be } from '../../codec/index.js'
import { startCluster, stopAll, waitFor, sleep, type Node } from './cluster.js'

function message (size: number, sender: number, seq: number): Uint8Array {
  const m = new Uint8Array(size)
  m[0] = sender
  m.set(u64be(seq), 1)
  return m
}

async function measure (nodes: Node[], perNode: number, send: (n: Node, i: number, k: number) => Promise<unknown> | unknown, kind: 'consensus' | 'tx'): Promise<{ seconds: number, cpuSeconds: number, delivered: number }> {
  let delivered = 0
  for (const n of nodes) {
    if (kind === 'consensus') n.rec.onConsensus = () => { delivered++ }
    else n.rec.onTx = () => { delivered++ }
  }
  const expected = nodes.length * perNode * (nodes.length - 1)
  const t0 = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  await Promise.all(nodes.map(async (n, i) => {
    for (let k = 0; k < perNode; k++) {
      await send(n, i, k)
      if (k % 64 === 63) await new Promise(resolve => setImmediate(resolve))
    }
  }))
  await waitFor(() => delivered >= expected, 30_000, `${expected} deliveries (have ${delivered})`)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  for (const n of nodes) { n.rec.onConsensus = undefined; n.rec.onTx = undefined }
  return { seconds, cpuSeconds, delivered }
}

t.test('throughput between 4 hosts', async t => {
  const nodes = await startCluster(4, undefined, [], false)
  t.teardown(async () => { await stopAll(nodes) })
  await waitFor(() => nodes.every(n => n.host.libp2p.services.pubsub.getSubscribers('/medchain/medchain-test/consensus/1').length === 3), 5_000, 'subscriptions')
  await sleep(1_100)

  const directPerNode = 3_000
  const direct = await measure(nodes, directPerNode, (n, i, k) => n.host.broadcastConsensus(message(256, i, k)), 'consensus')
  const directRate = direct.delivered / direct.seconds
  t.comment(`direct streams: ${4 * directPerNode} broadcasts of 256 B, ${direct.delivered} deliveries in ${direct.seconds.toFixed(2)} s = ${Math.round(directRate)} msgs/s delivered (${Math.round(4 * directPerNode / direct.seconds)} broadcasts/s); per CPU-second of the one process hosting all 4: ${Math.round(direct.delivered / direct.cpuSeconds)} deliveries`)
  t.ok(directRate > 5_000, `direct consensus delivery rate ${Math.round(directRate)} msgs/s`)

  const gossipPerNode = 100
  const gossip = await measure(nodes, gossipPerNode, async (n, i, k) => await n.host.publishConsensus(message(256, i, 1_000_000 + k)), 'consensus')
  const gossipRate = gossip.delivered / gossip.seconds
  t.comment(`gossipsub consensus topic: ${4 * gossipPerNode} publishes of 256 B, ${gossip.delivered} deliveries in ${gossip.seconds.toFixed(2)} s = ${Math.round(gossipRate)} msgs/s delivered; per CPU-second: ${Math.round(gossip.delivered / gossip.cpuSeconds)}`)
  t.comment(`direct / gossip = ${(directRate / gossipRate).toFixed(1)}x wall, ${((direct.delivered / direct.cpuSeconds) / (gossip.delivered / gossip.cpuSeconds)).toFixed(1)}x per CPU-second; load average ${(await import('node:os')).loadavg()[0].toFixed(1)} on ${(await import('node:os')).cpus().length} cores`)
  t.ok(gossipRate > 200, 'gossip path works under load')

  const batchPerNode = 25
  const batchBytes = 64 * 250
  const tx = await measure(nodes, batchPerNode, async (n, i, k) => await n.host.publishTxBatch(message(batchBytes, i, k)), 'tx')
  const batchRate = tx.delivered / tx.seconds
  t.comment(`tx-batch gossip: ${4 * batchPerNode} batches of 64 x 250 B, ${tx.delivered} deliveries in ${tx.seconds.toFixed(2)} s = ${Math.round(batchRate)} batches/s delivered = ${Math.round(batchRate * 64)} tx/s = ${(batchRate * batchBytes / 1e6).toFixed(1)} MB/s; per CPU-second: ${Math.round(tx.delivered / tx.cpuSeconds)} batches`)
  t.ok(batchRate > 50, 'tx batches flow')
  const directBatchPerNode = 200
  const dtx = await measure(nodes, directBatchPerNode, (n, i, k) => n.host.broadcastTxBatch(message(batchBytes, i, 1_000_000 + k)), 'tx')
  const dtxRate = dtx.delivered / dtx.seconds
  t.comment(`tx-batch direct streams: ${4 * directBatchPerNode} batches of 64 x 250 B, ${dtx.delivered} deliveries in ${dtx.seconds.toFixed(2)} s = ${Math.round(dtxRate)} batches/s delivered = ${Math.round(dtxRate * 64)} tx/s; per CPU-second: ${Math.round(dtx.delivered / dtx.cpuSeconds)} batches`)
  t.ok(dtxRate > 100, 'direct tx batches flow')
  for (const n of nodes) t.equal(n.host.counters().dropped.direct_queue_full ?? 0, 0, 'no queue overflow')
})
