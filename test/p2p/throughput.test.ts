// What the p2p layer carries between 4 real hosts on loopback, under a burst: every
// message on a direct stream reaches every other host exactly once, in the order sent;
// gossipsub (best effort) delivers no duplicates and something from every sender.
// The rates are printed as figures, never asserted: wall-clock rates belong in bench/.
import t from 'tap'
import { u64be } from '../../codec/index.js'
import { startCluster, stopAll, type Node } from './cluster.js'
import { waitFor, sleep } from '../wait.js'

function message (size: number, sender: number, seq: number): Uint8Array {
  const m = new Uint8Array(size)
  m[0] = sender
  m.set(u64be(seq), 1)
  return m
}

interface Measured { seconds: number, cpuSeconds: number, delivered: number, expected: number, problems: string[] }

/**
 * `path` 'direct': every message exactly once, in the order sent. 'gossip' (gossipsub, best
 * effort: it may drop under load): no duplicates, and something from every sender.
 */
async function measure (nodes: Node[], perNode: number, send: (n: Node, i: number, k: number) => Promise<unknown> | unknown, kind: 'consensus' | 'tx', firstSeq: number, path: 'direct' | 'gossip'): Promise<Measured> {
  let delivered = 0
  // got[receiver][sender] = sequence numbers in arrival order
  const got = nodes.map(() => nodes.map(() => [] as number[]))
  nodes.forEach((n, r) => {
    const record = (bytes: Uint8Array): void => {
      delivered++
      got[r][bytes[0]]?.push(Number(new DataView(bytes.buffer, bytes.byteOffset + 1, 8).getBigUint64(0)))
    }
    if (kind === 'consensus') n.rec.onConsensus = record
    else n.rec.onTx = record
  })
  const expected = nodes.length * perNode * (nodes.length - 1)
  const t0 = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  await Promise.all(nodes.map(async (n, i) => {
    for (let k = 0; k < perNode; k++) {
      await send(n, i, k)
      if (k % 64 === 63) await new Promise(resolve => setImmediate(resolve))
    }
  }))
  await waitFor(`${expected} deliveries`, path === 'direct' ? 60_000 : 20_000, () => delivered >= expected, 20).catch(() => {})
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  for (const n of nodes) { n.rec.onConsensus = undefined; n.rec.onTx = undefined }
  const problems: string[] = []
  const want = Array.from({ length: perNode }, (_, k) => firstSeq + k)
  for (let r = 0; r < nodes.length; r++) {
    for (let from = 0; from < nodes.length; from++) {
      const seqs = got[r][from]
      if (from === r) { if (seqs.length > 0) problems.push(`node ${r} received ${seqs.length} of its own messages`); continue }
      if (path === 'direct') {
        if (seqs.length !== want.length || seqs.some((s, k) => s !== want[k])) problems.push(`node ${r} from node ${from}: ${seqs.length} of ${perNode} (or out of order), first ${seqs.slice(0, 5).join(',')}`)
      } else {
        if (new Set(seqs).size !== seqs.length) problems.push(`node ${r} from node ${from}: duplicates`)
        if (seqs.some(s => s < firstSeq || s >= firstSeq + perNode)) problems.push(`node ${r} from node ${from}: a sequence number never sent`)
        if (seqs.length === 0) problems.push(`node ${r} from node ${from}: nothing`)
      }
    }
  }
  return { seconds, cpuSeconds, delivered, expected, problems }
}

t.test('a burst between 4 hosts: direct streams deliver every message exactly once and in order; gossip without duplicates', async t => {
  const nodes = await startCluster(4, undefined, [], false)
  t.teardown(async () => { await stopAll(nodes) })
  await waitFor('subscriptions', 20_000, () => nodes.every(n => n.host.libp2p.services.pubsub.getSubscribers('/medchain/medchain-test/consensus/1').length === 3), 20)
  await sleep(1_100)

  const directPerNode = 3_000
  const direct = await measure(nodes, directPerNode, (n, i, k) => n.host.broadcastConsensus(message(256, i, k)), 'consensus', 0, 'direct')
  t.same(direct.problems, [], `direct consensus: ${direct.delivered} of ${direct.expected} deliveries, each exactly once and in order`)
  const directRate = direct.delivered / direct.seconds
  t.comment(`direct streams: ${4 * directPerNode} broadcasts of 256 B, ${direct.delivered} deliveries in ${direct.seconds.toFixed(2)} s = ${Math.round(directRate)} msgs/s delivered (${Math.round(4 * directPerNode / direct.seconds)} broadcasts/s); per CPU-second of the one process hosting all 4: ${Math.round(direct.delivered / direct.cpuSeconds)} deliveries`)

  const gossipPerNode = 100
  const gossip = await measure(nodes, gossipPerNode, async (n, i, k) => await n.host.publishConsensus(message(256, i, 1_000_000 + k)), 'consensus', 1_000_000, 'gossip')
  t.same(gossip.problems, [], `gossip consensus: ${gossip.delivered} of ${gossip.expected} deliveries (best effort), no duplicates, some from every sender`)
  const gossipRate = gossip.delivered / gossip.seconds
  t.comment(`gossipsub consensus topic: ${4 * gossipPerNode} publishes of 256 B, ${gossip.delivered} deliveries in ${gossip.seconds.toFixed(2)} s = ${Math.round(gossipRate)} msgs/s delivered; per CPU-second: ${Math.round(gossip.delivered / gossip.cpuSeconds)}`)
  t.comment(`direct / gossip = ${(directRate / gossipRate).toFixed(1)}x wall, ${((direct.delivered / direct.cpuSeconds) / (gossip.delivered / gossip.cpuSeconds)).toFixed(1)}x per CPU-second; load average ${(await import('node:os')).loadavg()[0].toFixed(1)} on ${(await import('node:os')).cpus().length} cores`)

  const batchPerNode = 25
  const batchBytes = 64 * 250
  const tx = await measure(nodes, batchPerNode, async (n, i, k) => await n.host.publishTxBatch(message(batchBytes, i, k)), 'tx', 0, 'gossip')
  t.same(tx.problems, [], `tx-batch gossip: ${tx.delivered} of ${tx.expected} deliveries (best effort), no duplicates, some from every sender`)
  const batchRate = tx.delivered / tx.seconds
  t.comment(`tx-batch gossip: ${4 * batchPerNode} batches of 64 x 250 B, ${tx.delivered} deliveries in ${tx.seconds.toFixed(2)} s = ${Math.round(batchRate)} batches/s delivered = ${Math.round(batchRate * 64)} tx/s = ${(batchRate * batchBytes / 1e6).toFixed(1)} MB/s; per CPU-second: ${Math.round(tx.delivered / tx.cpuSeconds)} batches`)
  const directBatchPerNode = 200
  const dtx = await measure(nodes, directBatchPerNode, (n, i, k) => n.host.broadcastTxBatch(message(batchBytes, i, 1_000_000 + k)), 'tx', 1_000_000, 'direct')
  t.same(dtx.problems, [], `tx-batch direct: ${dtx.delivered} of ${dtx.expected} deliveries, each exactly once and in order`)
  const dtxRate = dtx.delivered / dtx.seconds
  t.comment(`tx-batch direct streams: ${4 * directBatchPerNode} batches of 64 x 250 B, ${dtx.delivered} deliveries in ${dtx.seconds.toFixed(2)} s = ${Math.round(dtxRate)} batches/s delivered = ${Math.round(dtxRate * 64)} tx/s; per CPU-second: ${Math.round(dtx.delivered / dtx.cpuSeconds)} batches`)
  for (const n of nodes) t.equal(n.host.counters().dropped.direct_queue_full ?? 0, 0, 'no queue overflow')
})
