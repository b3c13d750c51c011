// Throughput probe: 4 hosts in this process on loopback (so one core serves all four).
// Run after `npm run build`: node dist/p2p/measure.js [directPerNode] [gossipPerNode] [batchPerNode]
import '../node/polyfill.js'
import { loadavg } from 'node:os'
import { generateSeed, publicKeyFromSeed, sha256 } from '../crypto/index.js'
import { u64be, utf8 } from '../codec/index.js'
import { createP2PHost, type P2PHost } from './host.js'

const N = 4
const [directPer, gossipPer, batchPer] = [Number(process.argv[2] ?? 20_000), Number(process.argv[3] ?? 1_000), Number(process.argv[4] ?? 250)]

const seeds = Array.from({ length: N }, () => generateSeed())
const members = seeds.map(seed => ({ publicKey: publicKeyFromSeed(seed) }))
let consensusIn = 0
let txIn = 0
const hosts: P2PHost[] = await Promise.all(seeds.map(async seed => await createP2PHost({
  seed,
  listen: { host: '127.0.0.1', port: 0 },
  chainId: 'measure',
  genesisHash: sha256(utf8('measure')),
  members,
  handlers: { onTxBatch: () => { txIn++ }, onConsensusMessage: () => { consensusIn++ }, onSyncRequest: async () => ({ blocks: [] }) }
})))
for (const [i, h] of hosts.entries()) {
  for (const [j, g] of hosts.entries()) if (i !== j) h.setMemberAddress(members[j].publicKey, g.multiaddrs()[0].split('/p2p/')[0])
}
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
while (!hosts.every(h => h.connectedMembers().length === N - 1)) await sleep(20)
await sleep(1_500) // gossipsub mesh: subscriptions plus one heartbeat

function msg (size: number, sender: number, seq: number): Uint8Array {
  const m = new Uint8Array(size)
  m[0] = sender
  m.set(u64be(seq), 1)
  return m
}

async function run (label: string, per: number, size: number, counter: () => number, send: (h: P2PHost, i: number, k: number) => unknown): Promise<void> {
  const start = counter()
  const expected = N * per * (N - 1)
  const t0 = process.hrtime.bigint()
  const c0 = process.cpuUsage()
  await Promise.all(hosts.map(async (h, i) => {
    for (let k = 0; k < per; k++) {
      await send(h, i, k)
      if (k % 64 === 63) await new Promise(resolve => setImmediate(resolve))
    }
  }))
  const deadline = Date.now() + 60_000
  while (counter() - start < expected && Date.now() < deadline) await sleep(5)
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  const c = process.cpuUsage(c0)
  const got = counter() - start
  console.log(`${label}: ${N * per} sends of ${size} B -> ${got}/${expected} deliveries in ${s.toFixed(2)} s = ${Math.round(got / s)} deliveries/s (${Math.round(got / ((c.user + c.system) / 1e6))} per CPU-second)`)
}

console.log(`load average ${loadavg()[0].toFixed(1)}`)
await run('consensus, direct streams', directPer, 256, () => consensusIn, (h, i, k) => h.broadcastConsensus(msg(256, i, k)))
await run('consensus, gossipsub', gossipPer, 256, () => consensusIn, async (h, i, k) => await h.publishConsensus(msg(256, i, 1e9 + k)))
await run('tx batches (64 x 250 B), gossipsub', batchPer, 64 * 250, () => txIn, async (h, i, k) => await h.publishTxBatch(msg(64 * 250, i, k)))
await run('tx batches (64 x 250 B), direct streams', batchPer * 10, 64 * 250, () => txIn, (h, i, k) => h.broadcastTxBatch(msg(64 * 250, i, 1e9 + k)))
await Promise.all(hosts.map(async h => { await h.stop() }))
