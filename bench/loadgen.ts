import { MedchainClient } from '../cli/client.js'
import { Agent, request, type IncomingMessage } from 'node:http'
import type { BenchTx } from './workload.js'

const now = (): number => performance.now()

/**
 * Submits signed transactions as application/cbor over keep-alive HTTP, one agent
 * per validator with a bounded number of sockets.
 */
export class Submitter {
  private readonly agents: Agent[]
  constructor (readonly apis: string[], socketsPerNode: number) {
    this.agents = apis.map(() => new Agent({ keepAlive: true, maxSockets: socketsPerNode, maxFreeSockets: socketsPerNode }))
  }

  /** Resolves with null when accepted (202), else the error code the node answered. */
  submit (tx: BenchTx, node: number): Promise<string | null> {
    const url = new URL('/v1/txs', this.apis[node])
    return new Promise(resolve => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: this.agents[node], headers: { 'content-type': 'application/cbor', 'content-length': tx.bytes.length } }, (res: IncomingMessage) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          if (res.statusCode === 202 || res.statusCode === 200) { resolve(null); return }
          let code = `HTTP_${res.statusCode ?? 0}`
          try { code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error: { code: string } }).error.code } catch {}
          resolve(code)
        })
        res.on('error', () => resolve('HTTP_RESPONSE_ERROR'))
      })
      req.on('error', (err: NodeJS.ErrnoException) => resolve(`NET_${err.code ?? 'ERROR'}`))
      req.end(tx.bytes)
    })
  }

  close (): void { for (const a of this.agents) a.destroy() }
}

export interface CommitEvent { id: string, code: string, height: number, at: number }

/**
 * Follows a node's server-sent event stream and timestamps each committed
 * transaction as it arrives: one node sees every commit of the chain.
 */
export class CommitTracker {
  private req: ReturnType<typeof request> | null = null
  private buffer = ''
  committed = 0
  blocks = 0
  lastHeight = 0
  lastCommitAt = 0
  readonly byCode = new Map<string, number>()
  onTx: ((e: CommitEvent) => void) | null = null
  onBlock: ((height: number, txCount: number, at: number) => void) | null = null

  /** `memberSeed`: a member's key, which alone sees every commit on the stream (docs/access-table.md, E1). */
  constructor (readonly api: string, private readonly memberSeed: Uint8Array) {}

  async connect (): Promise<void> {
    const url = new URL('/v1/events', this.api)
    const auth = await new MedchainClient(this.api, { key: this.memberSeed }).authHeaders()
    await new Promise<void>((resolve, reject) => {
      this.req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'GET', headers: { accept: 'text/event-stream', ...auth } }, res => {
        if (res.statusCode !== 200) { reject(new Error(`event stream answered ${res.statusCode}`)); return }
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => this.feed(chunk))
        res.on('error', () => {})
        resolve()
      })
      this.req.on('error', err => reject(err))
      this.req.end()
    })
  }

  private feed (chunk: string): void {
    this.buffer += chunk
    let end: number
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const frame = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      let event = ''
      let data = ''
      for (const line of frame.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7)
        else if (line.startsWith('data: ')) data += line.slice(6)
      }
      if (data === '') continue
      const at = now()
      if (event === 'tx') {
        const d = JSON.parse(data) as { id: string, code: string, height: number }
        this.committed++
        this.lastCommitAt = at
        this.byCode.set(d.code, (this.byCode.get(d.code) ?? 0) + 1)
        this.onTx?.({ id: d.id, code: d.code, height: d.height, at })
      } else if (event === 'block') {
        const d = JSON.parse(data) as { height: number, txCount: number }
        this.blocks++
        this.lastHeight = d.height
        this.onBlock?.(d.height, d.txCount, at)
      }
    }
  }

  close (): void { this.req?.destroy(); this.req = null }
}

export interface LoadPlan {
  /** Fixed open-loop rate (tx/s), or null for as fast as the cluster accepts. */
  rate: number | null
  durationMs: number
  /** HTTP requests in flight at most (max mode), across validators. */
  concurrency: number
  /** Accepted but not yet committed at most, so max mode measures the chain, not a swelling mempool. */
  maxBacklog: number
  /** Validator indexes to submit to (senders are spread over them by key). */
  targets: number[]
}

export interface LoadOutcome {
  startedAt: number
  endedAt: number
  submitted: number
  accepted: number
  rejected: Record<string, number>
  /** Transactions sent in each second of the phase. */
  sentPerSecond: number[]
  ranOut: boolean
}

/**
 * Drives one load phase: open-loop at a fixed rate (ticks every 5 ms, each sending what
 * the schedule says is due), or at max rate keeping `concurrency` requests in flight.
 */
export async function runLoad (plan: LoadPlan, next: () => BenchTx | null, submitter: Submitter, tracker: CommitTracker,
  /** Filled with the submit time (performance clock, ms) of each tx id; for fixed rates the scheduled time, so harness queueing counts (no coordinated omission). */
  submitTimes: Map<string, number>, tick?: (o: LoadOutcome) => void): Promise<LoadOutcome> {
  const out: LoadOutcome = { startedAt: now(), endedAt: 0, submitted: 0, accepted: 0, rejected: {}, sentPerSecond: [], ranOut: false }
  const committedAtStart = tracker.committed
  let inFlight = 0
  const end = out.startedAt + plan.durationMs
  const send = (tx: BenchTx, at: number): void => {
    const node = plan.targets[tx.route % plan.targets.length]
    submitTimes.set(tx.id, at)
    const second = Math.floor((now() - out.startedAt) / 1000)
    while (out.sentPerSecond.length <= second) out.sentPerSecond.push(0)
    out.sentPerSecond[second]++
    out.submitted++
    inFlight++
    void submitter.submit(tx, node).then(code => {
      inFlight--
      if (code === null) out.accepted++
      else { out.rejected[code] = (out.rejected[code] ?? 0) + 1; submitTimes.delete(tx.id) }
    })
  }
  const backlog = (): number => out.accepted + inFlight - (tracker.committed - committedAtStart)
  let lastTick = 0
  while (now() < end && !out.ranOut) {
    const t = now()
    if (plan.rate !== null) {
      const due = Math.floor(((t - out.startedAt) / 1000) * plan.rate) - out.submitted
      for (let i = 0; i < due; i++) {
        const tx = next()
        if (tx === null) { out.ranOut = true; break }
        // The time the schedule meant to send it: queueing in the harness counts as latency.
        send(tx, out.startedAt + ((out.submitted + 1) / plan.rate) * 1000)
      }
    } else {
      while (inFlight < plan.concurrency && backlog() < plan.maxBacklog) {
        const tx = next()
        if (tx === null) { out.ranOut = true; break }
        send(tx, now())
      }
    }
    if (tick !== undefined && t - lastTick > 250) { lastTick = t; tick(out) }
    await new Promise(resolve => setTimeout(resolve, plan.rate !== null ? 5 : 1))
  }
  out.endedAt = now()
  while (inFlight > 0) await new Promise(resolve => setTimeout(resolve, 5))
  return out
}

/** Waits until `want` transactions have committed since `base`, or no commit for idleMs. */
export async function waitForCommits (tracker: CommitTracker, base: number, want: number, idleMs: number, tick?: () => void): Promise<void> {
  let lastCount = tracker.committed
  let lastChange = now()
  while (tracker.committed - base < want) {
    await new Promise(resolve => setTimeout(resolve, 50))
    tick?.()
    if (tracker.committed !== lastCount) { lastCount = tracker.committed; lastChange = now() }
    if (now() - lastChange > idleMs) return
  }
}
