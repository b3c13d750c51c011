// Four validators, each in its own network namespace (netns.ts), under real network faults with a
// light continuous load of patient registrations:
//   a. one validator isolated ~15 s: the other three keep committing, it commits nothing; healed,
//      it catches up to the same hashes and state roots;
//   b. a 2|2 split ~10 s: no block on either side (halt, no fork); healed, commits resume;
//   c. netem 100±50 ms delay, 10 % loss, 5 % duplication, 25 % reorder ~15 s: commits continue;
//   d. one validator partitioned and healed every 2 s, four times.
// Checked: AGREE (same block hash per height on every node), STATE (same state root), MONO
// (no node's height goes backwards, sampled every 200 ms), ACK (every transaction answered 2xx is
// committed exactly once), LIVE (progress within a bound after each heal).
// Consensus timeouts (node/config.ts defaults): propose 3 s, prevote and precommit 1 s, +0.5 s per
// round; createEmptyBlocksMs = 1000, so heights advance about once a second without load.
import t from 'tap'
import { generateSeed } from '../../crypto/index.js'
import { fastSigner } from '../../ledger/index.js'
import { ApiError } from '../../cli/client.js'
import { Cluster, sleep } from './cluster.js'
import { TestNetwork, type NetemSpec } from './netns.js'

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0]

const N = 4
const ALL = [0, 1, 2, 3]
const unavailable = TestNetwork.unavailable()

if (unavailable !== null) {
  t.test('network partitions and netem between validator namespaces', { skip: `needs root and ip netns: ${unavailable}` }, async () => {})
} else {
  const net = new TestNetwork(N)
  let cluster: Cluster | null = null
  const timings: Record<string, number | string> = {}
  t.teardown(async () => {
    load.stop()
    monitor.stop()
    net.down() // synchronous: kills what runs in the namespaces, removes them, the veths and the bridge
    await cluster?.stopAll()
    console.error(`# partition timings: ${JSON.stringify(timings)}`)
  })
  net.up()
  cluster = new Cluster(N, undefined, 'medchain-partition', { hosts: net.hosts(), launcher: i => net.launcher(i) })
  const c = cluster

  const heights = async (nodes = ALL): Promise<number[]> => await Promise.all(nodes.map(async i => await c.height(i)))
  const tails = (nodes = ALL): string => nodes.map(i => `--- node${i} (${c.nodes[i].api}) ---\n${c.logTail(i, 25)}`).join('\n')

  /** Polls until ok() or fails the wait with a message built by describe(); returns the ms it took. */
  async function waitUntil (what: string, ok: () => Promise<boolean>, timeoutMs: number, describe: () => Promise<string>): Promise<number> {
    const start = Date.now()
    while (Date.now() - start < timeoutMs) {
      if (await ok()) return Date.now() - start
      await sleep(200)
    }
    throw new Error(`${what}: not within ${timeoutMs} ms; ${await describe()}\n${tails()}`)
  }
  const describeHeights = async (): Promise<string> => (await heights()).map((h, i) => `node${i} at ${h}`).join(', ')

  /** Waits until every node in `nodes` has committed height `target`. */
  async function waitAllAt (what: string, nodes: number[], target: number, timeoutMs: number): Promise<number> {
    return await waitUntil(`${what}: every node at height ${target}`, async () => (await heights(nodes)).every(h => h >= target), timeoutMs, describeHeights)
  }

  async function waitConnected (what: string, timeoutMs: number): Promise<number> {
    return await waitUntil(`${what}: every node connected to ${N - 1} peers`, async () => {
      const s = await Promise.all(ALL.map(async i => await c.status(i).catch(() => null)))
      return s.every(x => x !== null && x.peers.length === N - 1)
    }, timeoutMs, async () => (await Promise.all(ALL.map(async i => await c.status(i).then(s => `node${i} has ${s.peers.length} peers`, () => `node${i} unreachable`)))).join(', '))
  }

  // ---- MONO: every node's height sampled every 200 ms; it must never go backwards ----
  const monitor = new (class {
    last = ALL.map(() => -1)
    max = ALL.map(() => -1)
    regressions: string[] = []
    running = false
    samples = 0
    start (): void {
      this.running = true
      void (async () => {
        while (this.running) {
          const hs = await heights()
          hs.forEach((h, i) => {
            if (h < 0) return
            if (h < this.last[i]) this.regressions.push(`node${i} went from ${this.last[i]} to ${h}`)
            this.last[i] = h
            this.max[i] = Math.max(this.max[i], h)
          })
          this.samples++
          await sleep(200)
        }
      })()
    }

    /** Highest heights seen from now until the returned function is called. */
    window (): () => number[] {
      const seen = ALL.map(() => -1)
      const timer = setInterval(() => { this.last.forEach((h, i) => { seen[i] = Math.max(seen[i], h) }) }, 50)
      return () => { clearInterval(timer); this.last.forEach((h, i) => { seen[i] = Math.max(seen[i], h) }); return seen }
    }

    stop (): void { this.running = false }
  })()

  // ---- Load: one patient registration at a time, ~6/s, to the nodes in `targets` ----
  const load = new (class {
    targets: number[] = []
    accepted = new Map<string, number>()
    acceptedAt = new Map<string, number>()
    refused = new Map<string, number>()
    failed = 0
    running = false
    private k = 0
    start (targets: number[]): void {
      this.targets = targets
      if (this.running) return
      this.running = true
      void (async () => {
        while (this.running) {
          const node = this.targets[this.k++ % this.targets.length]
          try {
            const r = await c.nodes[node].client.send('patient.register', {}, fastSigner(generateSeed()), { nonce: 0 })
            this.accepted.set(r.id, node)
            this.acceptedAt.set(r.id, Date.now())
          } catch (err) {
            if (err instanceof ApiError) this.refused.set(err.code, (this.refused.get(err.code) ?? 0) + 1)
            else this.failed++
          }
          await sleep(150)
        }
      })()
    }

    stop (): void { this.running = false }
  })()

  // ---- AGREE / STATE / ACK: every node's chain against the first one seen per height ----
  const chain = new (class {
    ref = new Map<number, { hash: string, stateRoot: string, from: number }>()
    verified = ALL.map(() => 0)
    /** tx id → copies on chain (from full blocks of one node, heights 1..scanned). */
    copies = new Map<string, number>()
    /** height → round at which it was committed (from the next block's commit certificate). */
    rounds = new Map<number, number>()
    scanned = 0

    async summaries (node: number, from: number, to: number): Promise<Array<{ height: number, hash: string, stateRoot: string }>> {
      const out: Array<{ height: number, hash: string, stateRoot: string }> = []
      let before = to + 1
      while (before > from) {
        const page = await c.nodes[node].client.get<Array<{ height: number, hash: string, stateRoot: string }>>(`/v1/blocks?before=${before}&limit=100`)
        if (page.length === 0) break
        for (const b of page) if (b.height >= from) out.push(b)
        before = page[page.length - 1].height
      }
      return out
    }

    /** Compares heights (verified, upTo] of each node with the reference; one assertion per node and invariant. */
    async check (t: TapTest, nodes: number[], upTo: number): Promise<void> {
      for (const i of nodes) {
        const from = this.verified[i] + 1
        if (from > upTo) continue
        const got = await this.summaries(i, from, upTo)
        const hashDiff: string[] = []
        const rootDiff: string[] = []
        for (const b of got) {
          const r = this.ref.get(b.height)
          if (r === undefined) { this.ref.set(b.height, { hash: b.hash, stateRoot: b.stateRoot, from: i }); continue }
          if (r.hash !== b.hash) hashDiff.push(`height ${b.height}: node${i} ${b.hash.slice(0, 12)} vs node${r.from} ${r.hash.slice(0, 12)}`)
          if (r.stateRoot !== b.stateRoot) rootDiff.push(`height ${b.height}: node${i} ${b.stateRoot.slice(0, 12)} vs node${r.from} ${r.stateRoot.slice(0, 12)}`)
        }
        t.equal(got.length, upTo - from + 1, `node${i} serves every block ${from}..${upTo}`)
        t.same(hashDiff, [], `AGREE: node${i} has the same block hash at heights ${from}..${upTo}`)
        t.same(rootDiff, [], `STATE: node${i} has the same state root at heights ${from}..${upTo}`)
        this.verified[i] = upTo
      }
    }

    /** Reads full blocks of `node` up to `upTo`: tx copies and commit rounds. */
    async scan (node: number, upTo: number): Promise<void> {
      for (let h = this.scanned + 1; h <= upTo; h++) {
        const b = await c.nodes[node].client.get<{ txs: string[], lastCommit: { height: number, round: number } | null }>(`/v1/blocks/${h}`)
        for (const id of b.txs) this.copies.set(id, (this.copies.get(id) ?? 0) + 1)
        if (b.lastCommit !== null) this.rounds.set(b.lastCommit.height, b.lastCommit.round)
        this.scanned = h
      }
    }

    /** ACK: waits until every accepted transaction is on chain, then checks each is there exactly once. */
    async ack (t: TapTest, label: string, timeoutMs: number): Promise<number> {
      // Those accepted so far: the load goes on, and the newest are always a block away.
      const ids = [...load.accepted.keys()]
      const missing = (): string[] => ids.filter(id => !this.copies.has(id))
      let first = true
      const took = await waitUntil('ACK: every accepted transaction committed', async () => {
        await this.scan(0, await c.height(0))
        const m = missing()
        if (first && m.length > 0) {
          // Which node the stragglers were sent to, and how long ago: a transaction is gossiped
          // once on acceptance; one stranded in a cut-off node's mempool waits for its proposal.
          const byNode: Record<string, number> = {}
          for (const id of m) byNode[`node${load.accepted.get(id) ?? -1}`] = (byNode[`node${load.accepted.get(id) ?? -1}`] ?? 0) + 1
          timings[`${label}.notYetCommitted`] = `${JSON.stringify(byNode)}, oldest accepted ${Date.now() - Math.min(...m.map(id => load.acceptedAt.get(id) ?? Date.now()))} ms ago`
        }
        first = false
        return m.length === 0
      }, timeoutMs, async () => `${missing().length} of ${ids.length} accepted transactions not on node0's chain (height ${this.scanned}), e.g. ${missing().slice(0, 3).join(', ')} sent to node${load.accepted.get(missing()[0] ?? '')}`)
      const dup = [...this.copies].filter(([, n]) => n > 1)
      t.same(dup, [], 'ACK: no transaction is on chain twice')
      t.equal(missing().length, 0, `ACK: all ${ids.length} transactions accepted so far are committed`)
      return took
    }

    roundsBetween (from: number, to: number): number[] {
      const out: number[] = []
      for (let h = from; h <= to; h++) { const r = this.rounds.get(h); if (r !== undefined) out.push(r) }
      return out
    }
  })()

  /** AGREE/STATE on every node up to the lowest height, and ACK. */
  async function checkAll (t: TapTest, label: string): Promise<void> {
    const upTo = Math.min(...await heights())
    await chain.check(t, ALL, upTo)
    timings[`${label}.ackMs`] = await chain.ack(t, label, 40_000)
  }

  const roundSummary = (rs: number[]): string => {
    const hist = new Map<number, number>()
    for (const r of rs) hist.set(r, (hist.get(r) ?? 0) + 1)
    return [...hist].sort((a, b) => a[0] - b[0]).map(([r, n]) => `round ${r}: ${n}`).join(', ')
  }

  t.test('four validators in four namespaces connect and commit over the bridge', async t => {
    const t0 = Date.now()
    await c.startAll()
    timings['start.healthyMs'] = Date.now() - t0
    timings['start.connectedMs'] = await waitConnected('start', 30_000)
    await waitAllAt('start', ALL, 2, 30_000)
    timings['start.totalMs'] = Date.now() - t0
    const s = await c.nodes[0].client.get<{ p2p: string[] }>('/v1/status')
    t.match(s.p2p.join(' '), `/ip4/${net.address(0)}/tcp/`, 'node0 listens on its namespace address')
    monitor.start()
    load.start(ALL)
    await sleep(2000)
    t.ok(load.accepted.size > 0, `load accepted ${load.accepted.size} transactions`)
    if (!t.passing()) t.comment(tails())
  })

  t.test('a. one validator isolated for 15 s: three commit, it commits nothing; healed, it catches up', async t => {
    load.start([0, 1, 2])
    const iso = 3
    const t0 = Date.now()
    net.isolate(iso)
    // Heights read right after the cut bound what was decided before it: the isolated node may
    // still apply messages it had received (under CPU contention, seconds later), but can never
    // commit past the height then in flight.
    const window = monitor.window()
    const cut = await heights()
    const bound = Math.max(...cut) + 1
    // /readyz of the isolated node must turn 503 while it is cut off: it stops hearing consensus
    // messages (the window is 10 s) even while libp2p, pinging every 10 s, still lists its peers.
    let notReadyAfterMs: number | null = null
    let notReadyReason = ''
    while (Date.now() - t0 < 15_000) {
      if (notReadyAfterMs === null) {
        const r = await fetch(`${c.nodes[iso].api}/readyz`).catch(() => null)
        if (r !== null && r.status === 503) { notReadyAfterMs = Date.now() - t0; notReadyReason = await r.text() }
      }
      await sleep(Math.min(500, Math.max(0, 15_000 - (Date.now() - t0))))
    }
    const seen = window()
    const end = await heights()
    const isoPeers = (await c.status(iso)).peers.length
    const majorityReady = (await fetch(`${c.nodes[0].api}/readyz`)).status
    timings['a.isolatedNodeView'] = `${isoPeers} peers listed, /readyz 503 after ${notReadyAfterMs ?? 'never'} ms`
    t.comment(`after ${((Date.now() - t0) / 1000).toFixed(1)} s isolated, node${iso} lists ${isoPeers} connected peers; /readyz 503 after ${notReadyAfterMs ?? 'never'} ms: ${notReadyReason}`)
    t.ok(notReadyAfterMs !== null, `the isolated node stops reporting ready while cut off (${notReadyAfterMs ?? 'never'} ms)`)
    t.match(notReadyReason, /heard consensus messages from|connected to/, 'and says why')
    t.equal(majorityReady, 200, 'a node of the majority stays ready')
    const heardBy = async (i: number): Promise<number> => Number(/^medchain_consensus_validators_heard (\d+)$/m.exec(await (await fetch(c.nodes[i].metrics)).text())?.[1] ?? NaN)
    t.ok(await heardBy(iso) < 3, `the isolated node's medchain_consensus_validators_heard is below quorum (${await heardBy(iso)})`)
    t.equal(await heardBy(0), 3, 'a majority node hears the three of the majority')
    t.ok(Math.max(seen[iso], end[iso]) <= bound, `node${iso} commits nothing new while isolated (${cut[iso]} → ${end[iso]}, highest seen ${seen[iso]}; in flight at the cut: ${bound})`)
    for (const i of [0, 1, 2]) t.ok(end[i] >= cut[i] + 3, `node${i} keeps committing while node${iso} is isolated (${cut[i]} → ${end[i]})`)
    timings['a.majorityHeightsIn15s'] = end[0] - cut[0]
    timings['a.isolatedLateCommits'] = Math.max(seen[iso], end[iso]) - cut[iso]

    const target = Math.max(...await heights([0, 1, 2]))
    net.heal()
    const healed = Date.now()
    timings['a.reconnectMs'] = await waitConnected('a. after heal', 30_000)
    await waitAllAt('a. after heal, the isolated node catches up', [iso], target, 30_000)
    timings['a.catchUpMs'] = Date.now() - healed
    timings['a.catchUpBlocks'] = target - end[iso]
    const live = Math.max(...await heights()) + 2
    await waitAllAt('a. LIVE after heal', ALL, live, 30_000)
    timings['a.liveMs'] = Date.now() - healed
    load.start(ALL)
    await checkAll(t, 'a')
    if (!t.passing()) t.comment(tails())
  })

  t.test('b. 2|2 split for 10 s: no block on either side, no fork; healed, commits resume', async t => {
    load.start(ALL) // both sides accept into their mempools; ACK wants them all committed after heal
    const t0 = Date.now()
    net.partition([[0, 1], [2, 3]])
    const window = monitor.window()
    const cut = await heights()
    const bound = Math.max(...cut) + 1
    await sleep(Math.max(0, 10_000 - (Date.now() - t0)))
    const seen = window()
    const end = await heights()
    // Only the height in flight at the cut may still land (its precommits were on the wire);
    // without a quorum on either side nothing after it. A fork would show in AGREE after heal.
    for (const i of ALL) t.ok(Math.max(seen[i], end[i]) <= bound, `node${i} commits no new height without a quorum (${cut[i]} → ${end[i]}, highest seen ${seen[i]}; in flight at the cut: ${bound})`)
    timings['b.lateCommits'] = ALL.map(i => Math.max(seen[i], end[i]) - cut[i]).join('/')
    const stuck = Math.max(...end)
    net.heal()
    const healed = Date.now()
    timings['b.reconnectMs'] = await waitConnected('b. after heal', 30_000)
    await waitUntil('b. first commit after heal', async () => Math.max(...await heights()) > stuck, 40_000, describeHeights)
    timings['b.firstCommitMs'] = Date.now() - healed
    await waitAllAt('b. LIVE after heal', ALL, stuck + 3, 40_000)
    timings['b.liveMs'] = Date.now() - healed
    t.comment(`commits resumed ${timings['b.firstCommitMs'] as number} ms after heal`)
    await checkAll(t, 'b')
    timings['b.roundsOfStuckHeight'] = chain.rounds.get(stuck + 1) ?? 'unknown'
    if (!t.passing()) t.comment(tails())
  })

  t.test('c. netem 100±50 ms, 10 % loss, 5 % duplicates, 25 % reorder for 15 s: commits continue, all agree', async t => {
    load.start(ALL)
    const spec: NetemSpec = { delayMs: 100, jitterMs: 50, lossPct: 10, duplicatePct: 5, reorderPct: 25 }
    const mode = await net.netem(spec)
    timings['c.mode'] = mode
    t.comment(`netem by ${mode === 'tc' ? 'tc qdisc netem' : 'the userspace VXLAN relay (this kernel has no sch_netem)'}`)
    const h0 = await heights()
    const t0 = Date.now()
    await sleep(15_000)
    const end = await heights()
    const stats = net.netemStats()
    net.clear()
    const secs = (Date.now() - t0) / 1000
    for (const i of ALL) t.ok(end[i] >= h0[i] + 3, `node${i} keeps committing under netem (${h0[i]} → ${end[i]} in ${secs.toFixed(1)} s)`)
    if (stats !== null && stats.mode === 'relay') {
      t.ok(stats.packets > 100 && stats.dropped > 0 && stats.duplicated > 0 && stats.immediate > 0, `the relay degraded real traffic: ${JSON.stringify(stats)}`)
      timings['c.relay'] = JSON.stringify(stats)
    }
    timings['c.heightsPerSecond'] = Number(((Math.min(...end) - Math.max(...h0)) / secs).toFixed(2))
    await checkAll(t, 'c')
    const rs = chain.roundsBetween(Math.max(...h0) + 1, Math.min(...end))
    timings['c.rounds'] = roundSummary(rs)
    t.ok(rs.length > 0, `rounds per height under netem: ${roundSummary(rs)}`)
    if (!t.passing()) t.comment(tails())
  })

  t.test('d. one validator partitioned and healed every 2 s, four times: agree and LIVE', async t => {
    load.start([0, 2, 3])
    const flap = 1
    const t0 = Date.now()
    for (let k = 0; k < 4; k++) {
      net.isolate(flap)
      await sleep(2000)
      net.heal()
      await sleep(2000)
    }
    const healed = Date.now()
    timings['d.flappingMs'] = healed - t0
    const target = Math.max(...await heights()) + 2
    await Promise.all([
      waitAllAt('d. LIVE after flapping', ALL, target, 30_000).then(() => { timings['d.liveMs'] = Date.now() - healed }),
      waitConnected('d. after flapping', 30_000).then(() => { timings['d.reconnectMs'] = Date.now() - healed })
    ])
    load.start(ALL)
    await checkAll(t, 'd')
    if (!t.passing()) t.comment(tails())
  })

  t.test('MONO over the whole run, and ACK of the last transactions once the load stops', async t => {
    load.stop()
    await sleep(300) // the last request in flight
    t.ok(monitor.samples > 100, `${monitor.samples} samples of every node's height`)
    t.same(monitor.regressions, [], 'MONO: no height went backwards')
    await checkAll(t, 'end')
    t.comment(`load: ${load.accepted.size} accepted, refused ${JSON.stringify(Object.fromEntries(load.refused))}, ${load.failed} transport errors`)
    t.comment(`timings: ${JSON.stringify(timings)}`)
  })
}
