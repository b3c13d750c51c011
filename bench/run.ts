import { cpus, totalmem, tmpdir } from 'node:os'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { BenchCluster } from './cluster.js'
import { measureBounds, verifyCeiling, type Bounds } from './bounds.js'
import { CommitTracker, Submitter, runLoad, waitForCommits } from './loadgen.js'
import { runPhase, type PhaseResult } from './phase.js'
import { Progress } from './progress.js'
import { Workload, type BenchTx } from './workload.js'

export const SCENARIOS = ['max', 'half', 'catchup', 'scale', 'memory'] as const
export type Scenario = typeof SCENARIOS[number]

export interface BenchOptions {
  scenarios: Scenario[]
  quick: boolean
  validators: number
  /** Load seconds of the max phase (half runs half as long at least 10 s). */
  durationS: number
  /** Fixed rate for the half scenario when max did not run in the same invocation. */
  rate: number | null
  patients: number
  providers: number
  concurrency: number
  maxBacklog: number
  catchupTxs: number
  memoryTxs: number
  scaleSizes: number[]
  scaleDurationS: number
  /** Validator index run under node --cpu-prof in the max scenario, or null. */
  profileValidator: number | null
  progress: boolean
  /** Where node homes go (a fresh temp folder by default); removed at the end unless keep. */
  workDir: string | null
  keep: boolean
  log: (line: string) => void
}

export interface CatchupResult {
  validators: number
  stoppedNode: string
  txsWhileDown: number
  blocksBehind: number
  startupS: number
  syncS: number
  blocksPerSec: number
  txPerSec: number
  leveldbEntriesPerSec: number
}

export interface ScaleResult { validators: number, txPerSec: number, verifyCeiling: number, ratio: number, latencyP50Ms: number, latencyP99Ms: number, cpuUsPerTxMean: number, roundsPerHeight: number, committed: number }

export interface MemoryResult { validators: number, committed: number, txPerSec: number, rssBytes: Array<{ name: string, rssBytes: number, peakRssBytes: number }>, diskBytesPerTx: number, rawTxBytes: number }

/** Top self-time functions; selfPct is of busy time (idle excluded), idlePct of the whole profile. */
export interface ProfileResult { validator: string, file: string, idlePct: number, busyMs: number, top: Array<{ fn: string, url: string, selfMs: number, selfPct: number }>, byArea: Array<{ area: string, selfMs: number, selfPct: number }> }

export interface BenchResult {
  version: 1
  startedAt: string
  finishedAt: string
  machine: { cpus: number, cpuModel: string, node: string, platform: string, totalMemBytes: number }
  options: Omit<BenchOptions, 'log'>
  bounds: Bounds
  max?: PhaseResult & { verifyCeiling: number, ceilingRatio: number }
  half?: PhaseResult
  catchup?: CatchupResult
  scale?: ScaleResult[]
  memory?: MemoryResult
  profile?: ProfileResult
  /** Scenarios that failed, with why: the others' figures are still reported. */
  errors: Record<string, string>
}

const now = (): number => performance.now()
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** Pre-generated transactions first, then generated on demand (the harness's CPU is reported). */
class TxSource {
  private buffer: BenchTx[] = []
  private i = 0
  constructor (readonly workload: Workload) {}
  pregenerate (count: number): void { this.buffer = this.buffer.slice(this.i).concat(this.workload.loadTxs(count)); this.i = 0 }
  next = (): BenchTx => this.i < this.buffer.length ? this.buffer[this.i++] : this.workload.nextLoadTx()
  avgBytes (): number { return this.workload.generated > 0 ? this.workload.generatedBytes / this.workload.generated : 0 }
}

interface Running { cluster: BenchCluster, tracker: CommitTracker, submitter: Submitter, source: TxSource }

/** Starts a cluster, follows node0's event stream, registers providers and patients. */
async function startLoaded (o: BenchOptions, validators: number, dir: string, progress: Progress, nodeArgs?: (i: number) => string[]): Promise<Running> {
  o.log(`starting ${validators} validators in ${dir}`)
  const cluster = await BenchCluster.start({ validators, dir, nodeArgs })
  const tracker = new CommitTracker(cluster.nodes[0].api, cluster.nodes[0].seed)
  await tracker.connect()
  const submitter = new Submitter(cluster.nodes.map(n => n.api), Math.max(4, Math.ceil(o.concurrency / validators)))
  const genesis = JSON.parse(readFileSync(join(cluster.nodes[0].home, 'genesis.json'), 'utf8')) as { genesisTime: number }
  const workload = new Workload({ chainId: cluster.chainId, memberSeeds: cluster.nodes.map(n => n.seed), patients: o.patients, providers: o.providers, genesisTime: genesis.genesisTime })
  const source = new TxSource(workload)
  // Setup: providers first (their registering members' nonces are sequential), then patients.
  const setup = workload.setupTxs()
  const base = tracker.committed
  progress.phase('setup', 1)
  const targets = cluster.nodes.map(n => n.index)
  const times = new Map<string, number>()
  let k = 0
  const out = await runLoad({ rate: null, durationMs: 600_000, concurrency: o.concurrency, maxBacklog: 20_000, targets }, () => k < setup.length ? setup[k++] : null, submitter, tracker, times)
  if (out.accepted < setup.length) o.log(`setup: ${setup.length - out.accepted} of ${setup.length} registrations refused: ${JSON.stringify(out.rejected)}`)
  await waitForCommits(tracker, base, out.accepted, 60_000, () => progress.update(0, tracker.committed - base, 0, 'setup'))
  o.log(`setup: ${tracker.committed - base} registrations committed (${o.providers} providers, ${o.patients} patients)`)
  return { cluster, tracker, submitter, source }
}

async function stopLoaded (r: Running): Promise<void> {
  r.tracker.close()
  r.submitter.close()
  await r.cluster.stop()
}

function phaseProgress (progress: Progress, totalS: number): (label: string, elapsedS: number, committed: number, rate: number) => void {
  let current = ''
  return (label, elapsedS, committed, rate) => {
    if (label !== current) { current = label; progress.phase(label, label.endsWith('drain') ? Math.max(totalS, elapsedS + 1) : totalS) }
    progress.update(Math.min(elapsedS, totalS), committed, rate)
  }
}

/** Runs the chosen scenarios and returns the complete result. */
export async function runBench (o: BenchOptions): Promise<BenchResult> {
  const startedAt = new Date().toISOString()
  const progress = new Progress(o.progress)
  const root = o.workDir ?? mkdtempSync(join(tmpdir(), 'medchain-bench-'))
  const cores = cpus().length
  o.log(`measuring this machine's bounds (ed25519 verify, LevelDB sync batches) on ${cores} cores`)
  const bounds = await measureBounds({ quick: o.quick, cores })
  o.log(`  libsodium verify ${Math.round(bounds.verifyPerSec)}/s (${bounds.verifyUs.toFixed(1)} µs), noble ${Math.round(bounds.nobleVerifyPerSec)}/s, LevelDB ${Math.round(bounds.leveldb.entriesPerSec)} entries/s in sync batches of ${bounds.leveldb.batchEntries}`)
  const { log: _log, ...options } = o
  const result: BenchResult = {
    version: 1,
    startedAt,
    finishedAt: '',
    machine: { cpus: cores, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}`, totalMemBytes: totalmem() },
    options,
    bounds,
    errors: {}
  }
  const attempt = async (name: string, fn: () => Promise<void>): Promise<void> => {
    try { await fn() } catch (err) {
      progress.stop()
      result.errors[name] = (err as Error).message
      o.log(`${name}: FAILED: ${(err as Error).message}`)
    }
  }
  const want = (s: Scenario): boolean => o.scenarios.includes(s)
  try {
    if (want('max') || want('half') || want('catchup')) await attempt('main', async () => {
      const profileDir = join(root, 'profile')
      const nodeArgs = (i: number): string[] => o.profileValidator === i && want('max') ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
      const r = await startLoaded(o, o.validators, join(root, `main-${o.validators}`), progress, nodeArgs)
      try {
        const targets = r.cluster.nodes.map(n => n.index)
        if (want('max')) {
          r.source.pregenerate(Math.min(o.quick ? 60_000 : 250_000, Math.ceil(verifyCeiling(bounds, o.validators) * o.durationS)))
          const phase = await runPhase({
            name: 'max', cluster: r.cluster, tracker: r.tracker, submitter: r.submitter, next: r.source.next,
            plan: { rate: null, durationMs: o.durationS * 1000, concurrency: o.concurrency, maxBacklog: o.maxBacklog, targets },
            drainIdleMs: 20_000, rawTxBytes: r.source.avgBytes(), progress: phaseProgress(progress, o.durationS)
          })
          const ceiling = verifyCeiling(bounds, o.validators)
          result.max = { ...phase, verifyCeiling: ceiling, ceilingRatio: phase.txPerSec / ceiling }
          progress.stop()
          o.log(`max: ${Math.round(phase.txPerSec)} tx/s committed = ${(phase.txPerSec / ceiling).toFixed(3)} × the verify ceiling (${Math.round(ceiling)} tx/s for ${o.validators} validators on ${cores} cores)`)
        }
        if (want('half')) {
          const maxRate = result.max?.txPerSec ?? o.rate
          const rate = Math.max(10, Math.round((o.rate ?? (maxRate ?? 200) / 2)))
          const halfS = o.quick ? Math.max(6, Math.round(o.durationS * 0.6)) : Math.max(10, Math.round(o.durationS / 2))
          r.source.pregenerate(Math.ceil(rate * halfS * 1.05))
          result.half = await runPhase({
            name: 'half', cluster: r.cluster, tracker: r.tracker, submitter: r.submitter, next: r.source.next,
            plan: { rate, durationMs: halfS * 1000, concurrency: o.concurrency, maxBacklog: Number.MAX_SAFE_INTEGER, targets },
            drainIdleMs: 10_000, rawTxBytes: r.source.avgBytes(), progress: phaseProgress(progress, halfS)
          })
          progress.stop()
          o.log(`half: ${rate} tx/s offered, p50 ${result.half.latencyMs.p50.toFixed(1)} ms, p99 ${result.half.latencyMs.p99.toFixed(1)} ms`)
        }
        if (want('catchup')) await attempt('catchup', async () => { result.catchup = await catchup(o, r, bounds, progress) })
        if (o.profileValidator !== null && want('max')) {
          await r.cluster.stopNode(o.profileValidator) // SIGTERM: node exits cleanly and writes the profile
          result.profile = readProfile(profileDir, r.cluster.nodes[o.profileValidator].name)
        }
      } finally {
        progress.stop()
        await stopLoaded(r)
      }
    })
    if (want('scale')) {
      const scale: ScaleResult[] = []
      result.scale = scale
      for (const n of o.scaleSizes) await attempt(`scale-${n}`, async () => {
        const r = await startLoaded(o, n, join(root, `scale-${n}`), progress)
        try {
          const p = await runPhase({
            name: `scale n=${n}`, cluster: r.cluster, tracker: r.tracker, submitter: r.submitter, next: r.source.next,
            plan: { rate: null, durationMs: o.scaleDurationS * 1000, concurrency: o.concurrency, maxBacklog: o.maxBacklog, targets: r.cluster.nodes.map(x => x.index) },
            drainIdleMs: 20_000, rawTxBytes: r.source.avgBytes(), progress: phaseProgress(progress, o.scaleDurationS)
          })
          const ceiling = verifyCeiling(bounds, n)
          scale.push({ validators: n, txPerSec: p.txPerSec, verifyCeiling: ceiling, ratio: p.txPerSec / ceiling, latencyP50Ms: p.latencyMs.p50, latencyP99Ms: p.latencyMs.p99, cpuUsPerTxMean: p.cpuUsPerTxMean, roundsPerHeight: p.roundsPerHeight, committed: p.committed })
          progress.stop()
          o.log(`scale: ${n} validators, ${Math.round(p.txPerSec)} tx/s (${(p.txPerSec / ceiling).toFixed(3)} × verify ceiling)`)
        } finally {
          progress.stop()
          await stopLoaded(r)
        }
      })
    }
    if (want('memory')) await attempt('memory', async () => {
      const r = await startLoaded(o, o.validators, join(root, 'memory'), progress)
      try {
        // Run at max rate until memoryTxs have committed (bounded by a generous time limit).
        const budgetS = Math.ceil(o.memoryTxs / 200) + 60
        let sent = 0
        const p = await runPhase({
          name: 'memory', cluster: r.cluster, tracker: r.tracker, submitter: r.submitter,
          next: () => sent++ < o.memoryTxs ? r.source.next() : null,
          plan: { rate: null, durationMs: budgetS * 1000, concurrency: o.concurrency, maxBacklog: o.maxBacklog, targets: r.cluster.nodes.map(x => x.index) },
          drainIdleMs: 10_000, rawTxBytes: r.source.avgBytes(), progress: phaseProgress(progress, budgetS)
        })
        result.memory = { validators: o.validators, committed: p.committed, txPerSec: p.txPerSec, rssBytes: p.perValidator.map(v => ({ name: v.name, rssBytes: v.rssBytes, peakRssBytes: v.peakRssBytes })), diskBytesPerTx: p.diskBytesPerTx, rawTxBytes: p.rawTxBytes }
      } finally {
        progress.stop()
        await stopLoaded(r)
      }
    })
  } finally {
    progress.stop()
    if (!o.keep && o.workDir === null) rmSync(root, { recursive: true, force: true })
  }
  result.finishedAt = new Date().toISOString()
  return result
}

/** Stops the last validator, commits K transactions without it, restarts it and times its sync. */
async function catchup (o: BenchOptions, r: Running, bounds: Bounds, progress: Progress): Promise<CatchupResult> {
  const { cluster, tracker } = r
  const down = cluster.nodes.length - 1
  if (down === 0) throw new Error('catch-up needs at least 2 validators')
  const name = cluster.nodes[down].name
  await cluster.stopNode(down, 'SIGTERM')
  // Its height on disk: it may have committed a block more than the last status said, never fewer.
  const stoppedHeight = tracker.lastHeight
  o.log(`catchup: stopped ${name}; committing ${o.catchupTxs} transactions without it`)
  const targets = cluster.nodes.filter(n => n.index !== down).map(n => n.index)
  let sent = 0
  r.source.pregenerate(o.catchupTxs)
  const base = tracker.committed
  progress.phase('catchup load', Math.max(1, Math.round(o.catchupTxs / 1000)))
  const t0 = now()
  const out = await runLoad({ rate: null, durationMs: 1_800_000, concurrency: o.concurrency, maxBacklog: o.maxBacklog, targets }, () => sent++ < o.catchupTxs ? r.source.next() : null, r.submitter, tracker, new Map(), () => {
    progress.update(Math.min((tracker.committed - base) / 1000, o.catchupTxs / 1000), tracker.committed - base, (tracker.committed - base) / ((now() - t0) / 1000))
  })
  await waitForCommits(tracker, base, out.accepted, 10_000)
  progress.stop()
  const target = tracker.lastHeight
  const txsWhileDown = tracker.committed - base
  const startT = now()
  await cluster.startNode(down)
  const startedT = now()
  const from = await heightOf(cluster.nodes[down].api)
  progress.phase('catchup sync', Math.max(1, target - from))
  let h = from
  while (h < target) {
    await sleep(100)
    h = await heightOf(cluster.nodes[down].api)
    progress.update(h - from, h, 0, 'catchup sync')
    if (now() - startedT > 600_000) throw new Error(`${name} did not catch up within 10 minutes (at ${h} of ${target})`)
  }
  const syncS = (now() - startedT) / 1000
  progress.stop()
  const blocksBehind = target - Math.min(stoppedHeight, from)
  const res: CatchupResult = {
    validators: cluster.nodes.length,
    stoppedNode: name,
    txsWhileDown,
    blocksBehind,
    startupS: (startedT - startT) / 1000,
    syncS,
    blocksPerSec: blocksBehind / syncS,
    txPerSec: txsWhileDown / syncS,
    leveldbEntriesPerSec: bounds.leveldb.entriesPerSec
  }
  o.log(`catchup: ${name} synced ${blocksBehind} blocks / ${txsWhileDown} txs in ${syncS.toFixed(2)} s = ${Math.round(res.txPerSec)} tx/s`)
  return res
}

async function heightOf (api: string): Promise<number> {
  const s = await (await fetch(`${api}/v1/status`)).json() as { height: number }
  return s.height
}

interface CpuProfile { nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }>, samples?: number[], timeDeltas?: number[], startTime: number, endTime: number }

/** Top self-time functions of the .cpuprofile node wrote on exit. */
export function readProfile (dir: string, validator: string): ProfileResult | undefined {
  let files: string[]
  try { files = readdirSync(dir).filter(f => f.endsWith('.cpuprofile')).sort() } catch { return undefined }
  if (files.length === 0) return undefined
  const file = join(dir, files[files.length - 1])
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  return { validator, file, ...topSelfTime(prof, 25) }
}

/** Where a frame's code lives: a project folder, a package, a node:internal module, or the engine. */
function areaOf (fn: string, url: string): string {
  if (fn === '(garbage collector)') return 'gc'
  let m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)
  if (m !== null) return m[1]
  m = /dist\/([^/]+)\//.exec(url)
  if (m !== null) return `medchain ${m[1]}/`
  m = /^node:internal\/([^/]+)/.exec(url)
  if (m !== null) return `node:${m[1]}`
  return url === '' || url.startsWith(':') ? `native ${fn}` : 'other'
}

export function topSelfTime (prof: CpuProfile, n: number): Pick<ProfileResult, 'top' | 'idlePct' | 'busyMs' | 'byArea'> {
  const byId = new Map(prof.nodes.map(x => [x.id, x]))
  const selfUs = new Map<number, number>()
  const samples = prof.samples ?? []
  const deltas = prof.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + (deltas[i] ?? 0))
  const byFn = new Map<string, { fn: string, url: string, us: number }>()
  let total = 0
  let idle = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (node === undefined) continue
    if (node.callFrame.functionName === '(idle)') { idle += us; continue }
    total += us
    const fn = node.callFrame.functionName === '' ? '(anonymous)' : node.callFrame.functionName
    const raw = node.callFrame.url.replace(/^file:\/\//, '')
    const url = raw.includes('node_modules/') ? raw.replace(/.*node_modules\//, 'node_modules/') : raw.replace(/.*\/dist\//, 'dist/')
    const key = `${fn} ${url}:${node.callFrame.lineNumber}`
    const e = byFn.get(key) ?? { fn, url: `${url}:${node.callFrame.lineNumber + 1}`, us: 0 }
    e.us += us
    byFn.set(key, e)
  }
  const top = [...byFn.values()].sort((a, b) => b.us - a.us).slice(0, n).map(e => ({ fn: e.fn, url: e.url, selfMs: e.us / 1000, selfPct: total > 0 ? (100 * e.us) / total : 0 }))
  const areas = new Map<string, number>()
  for (const e of byFn.values()) { const a = areaOf(e.fn, e.url); areas.set(a, (areas.get(a) ?? 0) + e.us) }
  const byArea = [...areas].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([area, us]) => ({ area, selfMs: us / 1000, selfPct: total > 0 ? (100 * us) / total : 0 }))
  return { top, byArea, idlePct: total + idle > 0 ? (100 * idle) / (total + idle) : 0, busyMs: total / 1000 }
}
