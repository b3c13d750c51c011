import hdr from 'hdr-histogram-js'
import type { BenchCluster } from './cluster.js'
import { CommitTracker, runLoad, type LoadPlan, type Submitter } from './loadgen.js'
import { chainCounters, cpuSeconds, diskBytes, rssBytes, stateCommitSeconds } from './probe.js'
import type { BenchTx } from './workload.js'

export interface LatencySummary { count: number, p50: number, p90: number, p99: number, max: number, mean: number }

export interface ValidatorStats {
  name: string
  cpuSeconds: number
  /** CPU microseconds per committed transaction (this validator's process). */
  cpuUsPerTx: number
  rssBytes: number
  peakRssBytes: number
  diskBytes: number
}

export interface TimelinePoint { t: number, submitted: number, committed: number, cpu: number[] }

/** Everything one load phase measured. All times in ms unless named otherwise. */
export interface PhaseResult {
  name: string
  validators: number
  targetRate: number | null
  durationS: number
  submitted: number
  accepted: number
  rejected: Record<string, number>
  committed: number
  committedByCode: Record<string, number>
  /** Sustained: the phase's committed transactions over the time from its start to its last commit (load + drain). */
  txPerSec: number
  /** Committed tx/s inside the load window only (blocks landing after it not counted). */
  txPerSecLoadWindow: number
  peakTxPerSec: number
  drainS: number
  latencyMs: LatencySummary
  latencyCdf: Array<[number, number]>
  timeline: TimelinePoint[]
  perValidator: ValidatorStats[]
  cpuUsPerTxMean: number
  /** Time in the state commitment (state tree) per committed tx per validator, µs (mean over validators). */
  stateCommitUsPerTx: number
  /** Data dir bytes (mean over validators) per transaction committed on the chain so far. */
  diskBytesPerTx: number
  rawTxBytes: number
  chainTxs: number
  blocks: number
  txPerBlock: number
  roundsPerHeight: number
  timeouts: number
  harnessCpuSeconds: number
  ranOut: boolean
}

const now = (): number => performance.now()

/** Waits (bounded) until a node's mempool is empty, so a phase starts without the last one's backlog. */
async function waitMempoolEmpty (api: string, timeoutMs: number): Promise<void> {
  const deadline = now() + timeoutMs
  while (now() < deadline) {
    try {
      const s = await (await fetch(`${api}/v1/status`)).json() as { mempool: { txs: number } }
      if (s.mempool.txs === 0) return
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

export interface PhaseInput {
  name: string
  cluster: BenchCluster
  tracker: CommitTracker
  submitter: Submitter
  next: () => BenchTx | null
  plan: LoadPlan
  /** Waits this long (no new commit) for the backlog to commit after the load stops. */
  drainIdleMs: number
  /** Average signed tx size, for disk ratios. */
  rawTxBytes: number
  progress?: (label: string, elapsedS: number, committed: number, txPerSec: number) => void
}

/** Runs one load phase on a running cluster and measures it. */
export async function runPhase (input: PhaseInput): Promise<PhaseResult> {
  const { cluster, tracker } = input
  const live = cluster.nodes.filter(n => cluster.running(n.index)).map(n => n.index)
  const pids = live.map(i => cluster.pid(i) ?? -1)
  const cpu0 = pids.map(p => cpuSeconds(p) ?? 0)
  const counters0 = await chainCounters(cluster.nodes[live[0]].metrics)
  const commit0 = await Promise.all(live.map(async i => await stateCommitSeconds(cluster.nodes[i].metrics)))
  const harness0 = process.cpuUsage()
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 })
  await waitMempoolEmpty(cluster.nodes[live[0]].api, 60_000)
  const byCode = new Map<string, number>()
  const buckets: Array<{ submitted: number, committed: number, cpu: number[] }> = []
  const peakRss = live.map(() => 0)
  const submitTimes = new Map<string, number>()
  const startedAt = now()
  let loadEndedAt = Infinity
  let committedInWindow = 0
  let lastCommitAt = startedAt
  const bucketAt = (t: number): { submitted: number, committed: number, cpu: number[] } => {
    const k = Math.max(0, Math.floor((t - startedAt) / 1000))
    while (buckets.length <= k) buckets.push({ submitted: 0, committed: 0, cpu: [] })
    return buckets[k]
  }
  // Only this phase's own transactions count: a previous phase's backlog committing now is not its throughput.
  let committed = 0
  tracker.onTx = e => {
    const t0 = submitTimes.get(e.id)
    if (t0 === undefined) return
    submitTimes.delete(e.id)
    committed++
    lastCommitAt = e.at
    byCode.set(e.code, (byCode.get(e.code) ?? 0) + 1)
    bucketAt(e.at).committed++
    if (e.at <= loadEndedAt) committedInWindow++
    histogram.recordValue(Math.max(1, Math.round((e.at - t0) * 1000)))
  }
  // CPU and RSS sampled every second per validator.
  let lastCpu = [...cpu0]
  const sampler = setInterval(() => {
    const b = bucketAt(now() - 1)
    pids.forEach((pid, j) => {
      const c = cpuSeconds(pid)
      if (c !== null) { b.cpu[j] = c - lastCpu[j]; lastCpu[j] = c }
      const r = rssBytes(pid)
      if (r !== null && r > peakRss[j]) peakRss[j] = r
    })
  }, 1000)

  let lastProgress = 0
  const outcome = await runLoad(input.plan, input.next, input.submitter, tracker, submitTimes, () => {
    const t = now()
    if (t - lastProgress > 500) {
      lastProgress = t
      input.progress?.(input.name, (t - startedAt) / 1000, committed, committed / ((t - startedAt) / 1000))
    }
  })
  loadEndedAt = outcome.endedAt
  outcome.sentPerSecond.forEach((n, k) => { bucketAt(startedAt + k * 1000).submitted += n })
  // Drain: everything accepted should commit; stop waiting when commits stop.
  {
    let last = committed
    let lastChange = now()
    while (committed < outcome.accepted && now() - lastChange < input.drainIdleMs) {
      await new Promise(resolve => setTimeout(resolve, 50))
      if (committed !== last) { last = committed; lastChange = now() }
      input.progress?.(`${input.name} drain`, (now() - startedAt) / 1000, committed, 0)
    }
  }
  clearInterval(sampler)
  tracker.onTx = null
  const endAt = now()

  const cpu1 = pids.map(p => cpuSeconds(p) ?? 0)
  const disk1 = live.map(i => diskBytes(cluster.nodes[i].dataDir))
  const counters1 = await chainCounters(cluster.nodes[live[0]].metrics)
  const commit1 = await Promise.all(live.map(async i => await stateCommitSeconds(cluster.nodes[i].metrics)))
  const harness1 = process.cpuUsage(harness0)
  const loadS = (outcome.endedAt - outcome.startedAt) / 1000
  const perValidator: ValidatorStats[] = live.map((i, j) => {
    const cpuS = cpu1[j] - cpu0[j]
    const rss = rssBytes(pids[j]) ?? 0
    return {
      name: cluster.nodes[i].name,
      cpuSeconds: cpuS,
      cpuUsPerTx: committed > 0 ? (cpuS * 1e6) / committed : 0,
      rssBytes: rss,
      peakRssBytes: Math.max(peakRss[j], rss),
      diskBytes: disk1[j]
    }
  })
  const cdf: Array<[number, number]> = []
  if (histogram.totalCount > 0) {
    for (const p of [0, 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97.5, 99, 99.5, 99.9, 100]) cdf.push([histogram.getValueAtPercentile(p) / 1000, p / 100])
  }
  const latency: LatencySummary = {
    count: histogram.totalCount,
    p50: histogram.getValueAtPercentile(50) / 1000,
    p90: histogram.getValueAtPercentile(90) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    max: histogram.maxValue / 1000,
    mean: histogram.totalCount > 0 ? histogram.mean / 1000 : 0
  }
  const blocks = counters1.blocks - counters0.blocks
  const rounds = counters1.roundsCount - counters0.roundsCount
  const timeline = buckets.map((b, k) => ({ t: k, submitted: b.submitted, committed: b.committed, cpu: live.map((_, j) => b.cpu[j] ?? 0) }))
  const loadBuckets = timeline.slice(0, Math.max(1, Math.floor(loadS)))
  return {
    name: input.name,
    validators: cluster.nodes.length,
    targetRate: input.plan.rate,
    durationS: loadS,
    submitted: outcome.submitted,
    accepted: outcome.accepted,
    rejected: outcome.rejected,
    committed,
    committedByCode: Object.fromEntries([...byCode].sort()),
    txPerSec: committed / Math.max(0.001, (Math.max(lastCommitAt, outcome.endedAt) - startedAt) / 1000),
    txPerSecLoadWindow: committedInWindow / loadS,
    peakTxPerSec: Math.max(0, ...loadBuckets.map(b => b.committed)),
    drainS: Math.max(0, (endAt - outcome.endedAt) / 1000),
    latencyMs: latency,
    latencyCdf: cdf,
    timeline,
    perValidator,
    cpuUsPerTxMean: perValidator.reduce((a, v) => a + v.cpuUsPerTx, 0) / Math.max(1, perValidator.length),
    stateCommitUsPerTx: committed > 0 ? commit1.reduce((a, c, j) => a + (c - commit0[j]), 0) / live.length * 1e6 / committed : 0,
    // Whole data dir over every tx the chain holds: growth per phase swings with LevelDB compaction.
    diskBytesPerTx: counters1.txs > 0 ? disk1.reduce((a, b) => a + b, 0) / disk1.length / counters1.txs : 0,
    rawTxBytes: input.rawTxBytes,
    chainTxs: counters1.txs,
    blocks,
    txPerBlock: blocks > 0 ? committed / blocks : 0,
    roundsPerHeight: rounds > 0 ? (counters1.roundsSum - counters0.roundsSum) / rounds : 1,
    timeouts: counters1.timeouts - counters0.timeouts,
    harnessCpuSeconds: (harness1.user + harness1.system) / 1e6,
    ranOut: outcome.ranOut
  }
}
