// Real validator processes for integration tests: homes from `testnet`, one `medchain start`
// process each, killed for real (SIGKILL) when a test says so. On 127.0.0.1 by default; with
// `hosts` and `launcher` each validator binds p2p and API to its own address and is started
// through a command prefix (e.g. `ip netns exec <ns>`, see netns.ts).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeTestnet } from '../../cli/commands/testnet.js'
import { readConfig, writeConfig } from '../../node/config.js'
import { readKeyFile } from '../../crypto/index.js'
import { MedchainClient } from '../../cli/client.js'
import { reserveBasePort } from '../ports.js'
import { sleep } from '../wait.js'

export const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js')

export interface ValidatorProc { index: number, home: string, api: string, /** Its metrics listener (127.0.0.1, API port + 2). */ metrics: string, client: MedchainClient, proc: ChildProcess | null, seed: Uint8Array, publicKey: Uint8Array }

/** A base port reserved for this test process (test/ports.ts). */
export function randomBasePort (): number {
  return reserveBasePort()
}

export interface ClusterOptions {
  /** One IPv4 per validator: its p2p address (`testnet --hosts`) and its API address. */
  hosts?: string[]
  /** Command prefix validator i is started with; it must exec the node (same pid), like `ip netns exec`. */
  launcher?: (index: number) => string[]
}

export class Cluster {
  readonly nodes: ValidatorProc[] = []
  readonly dir: string
  chainId = ''

  private readonly launcher?: (index: number) => string[]

  constructor (readonly size: number, readonly basePort = randomBasePort(), chainId = 'medchain-it', opts: ClusterOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'medchain-it-'))
    const { homes, genesis } = writeTestnet({ validators: size, out: this.dir, chainId, basePort, hosts: opts.hosts })
    this.chainId = genesis.chainId
    this.launcher = opts.launcher
    homes.forEach((home, index) => {
      const key = readKeyFile(join(home, 'node_key.json'))
      const host = opts.hosts?.[index] ?? '127.0.0.1'
      if (opts.hosts !== undefined) {
        const config = readConfig(home)
        config.api.host = host
        // A closed network of namespaces: plain HTTP off loopback by explicit opt-in, metrics beside the API.
        config.api.plainHttpOnNetwork = true
        config.metrics.host = host
        writeConfig(home, config)
      }
      const api = `http://${host}:${basePort + index * 10}`
      this.nodes.push({ index, home, api, metrics: `http://${host}:${basePort + index * 10 + 2}/metrics`, client: new MedchainClient(api, { key: key.seed }), proc: null, seed: key.seed, publicKey: key.publicKey })
    })
  }

  start (index: number, extraEnv: Record<string, string> = {}): ChildProcess {
    const n = this.nodes[index]
    const log = openSync(join(n.home, 'node.log'), 'a')
    const command = [...(this.launcher?.(index) ?? []), process.execPath, MAIN, 'start', '--home', n.home]
    const proc = spawn(command[0], command.slice(1), { stdio: ['ignore', log, log], env: { ...process.env, ...extraEnv } })
    n.proc = proc
    return proc
  }

  async startAll (): Promise<void> {
    for (let i = 0; i < this.size; i++) this.start(i)
    await Promise.all(this.nodes.map(async (_, i) => await this.waitHealthy(i)))
  }

  async waitHealthy (index: number, timeoutMs = 90_000): Promise<void> {
    const n = this.nodes[index]
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (n.proc?.exitCode !== null && n.proc?.exitCode !== undefined) throw new Error(`node${index} exited with ${n.proc.exitCode}: ${this.logTail(index)}`)
      try { if ((await fetch(`${n.api}/healthz`)).ok) return } catch {}
      await sleep(100)
    }
    throw new Error(`node${index} not healthy after ${timeoutMs} ms: ${this.logTail(index)}`)
  }

  /** SIGKILL: no shutdown code runs, like a power cut of the process. */
  async kill (index: number): Promise<void> {
    const p = this.nodes[index].proc
    if (p === null || p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise(resolve => p.once('exit', resolve))
    p.kill('SIGKILL')
    await exited
    this.nodes[index].proc = null
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.nodes.map(async (_, i) => await this.kill(i)))
  }

  async status (index: number): Promise<{ height: number, latestBlockHash: string, stateRoot: string, peers: string[] }> {
    return await this.nodes[index].client.get('/v1/status')
  }

  async height (index: number): Promise<number> {
    try { return (await this.status(index)).height } catch { return -1 }
  }

  async waitHeight (index: number, height: number, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs
    let h = -1
    while (Date.now() < deadline) {
      h = await this.height(index)
      if (h >= height) return h
      await sleep(200)
    }
    throw new Error(`node${index} at height ${h}, wanted ${height} within ${timeoutMs} ms: ${this.logTail(index)}`)
  }

  /** Block hash and state root of every height up to `upTo` on one node. */
  async chain (index: number, upTo: number): Promise<string[]> {
    const out: string[] = []
    for (let h = 1; h <= upTo; h++) {
      const b = await this.nodes[index].client.get<{ hash: string, header: { stateRoot: string } }>(`/v1/blocks/${h}`)
      out.push(`${b.hash}/${b.header.stateRoot}`)
    }
    return out
  }

  logTail (index: number, lines = 15): string {
    try { return readFileSync(join(this.nodes[index].home, 'node.log'), 'utf8').trim().split('\n').slice(-lines).join('\n') } catch { return '(no log)' }
  }
}

/** Re-exported for the tests that import it from here; the one definition is test/wait.ts. */
export { sleep }
