import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeTestnet } from '../cli/commands/testnet.js'
import { waitForApi } from '../cli/commands/devnet.js'
import { homePaths, loadKey } from '../cli/home.js'
import { readConfig, writeConfig } from '../node/config.js'

/** One validator process of a benchmark cluster. */
export interface BenchNode {
  index: number
  name: string
  home: string
  dataDir: string
  api: string
  /** Its metrics listener (127.0.0.1). */
  metrics: string
  publicKeyHex: string
  seed: Uint8Array
  /** Extra node arguments (e.g. --cpu-prof) for this validator only. */
  nodeArgs: string[]
  child: ChildProcess | null
}

export interface ClusterOptions {
  validators: number
  /** Folder for the node homes; created fresh. */
  dir: string
  chainId?: string
  /** Extra node arguments per validator index (profiling one validator). */
  nodeArgs?: (index: number) => string[]
  logLevel?: 'debug' | 'info' | 'warn' | 'error'
}

/**
 * The compiled CLI entry: bench/ runs from dist/bench/ in production; under tap the
 * module is a .ts file, so fall back to the repository's dist/ build.
 */
export function cliMain (): string {
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.js')) return resolve(dirname(here), '../cli/main.js')
  const built = resolve(dirname(here), '../dist/cli/main.js')
  if (!existsSync(built)) throw new Error(`${built} missing: run npm run build first`)
  return built
}

async function portFree (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

/** A base port whose API and p2p ports (base + 10 i, base + 10 i + 1) are all free now. */
export async function findBasePort (validators: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below the kernel's ephemeral range (32768+), so outgoing connections never take our ports.
    const base = 20_000 + 10 * Math.floor(Math.random() * (1_200 - validators))
    let ok = true
    for (let i = 0; i < validators && ok; i++) ok = await portFree(base + 10 * i) && await portFree(base + 10 * i + 1)
    if (ok) return base
  }
  throw new Error('no free port range found for the benchmark cluster')
}

function tail (path: string, lines: number): string {
  try { return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') } catch { return '(no log)' }
}

/** Every cluster still running, so Ctrl-C can stop them all. */
const liveClusters = new Set<BenchCluster>()

/** Stops every cluster this process started (signal handlers call this). */
export async function stopAllClusters (): Promise<void> {
  await Promise.all([...liveClusters].map(async c => await c.stop()))
}

/**
 * A local consortium for benchmarks: fresh homes in `dir`, free loopback ports, one
 * validator process each (the same `medchain start` operators run), stoppable and
 * restartable one at a time.
 */
export class BenchCluster {
  readonly nodes: BenchNode[] = []
  chainId = ''
  private constructor (readonly opts: ClusterOptions) {}

  /** Starts the cluster; a failed start (a port taken meanwhile, a slow machine) is retried once on fresh ports. */
  static async start (opts: ClusterOptions): Promise<BenchCluster> {
    let lastError: Error | null = null
    for (let attempt = 0; attempt < 2; attempt++) {
      const cluster = new BenchCluster({ ...opts, dir: attempt === 0 ? opts.dir : `${opts.dir}-retry${attempt}` })
      liveClusters.add(cluster)
      try {
        await cluster.create()
        await Promise.all(cluster.nodes.map(async n => await cluster.startNode(n.index)))
        await cluster.waitReady(60_000)
        return cluster
      } catch (err) {
        const logs = cluster.nodes.map(n => `${n.name}: ${tail(homePaths(n.home).log, 3)}`).join('\n')
        lastError = new Error(`${(err as Error).message}\n${logs}`)
        await cluster.stop()
      }
    }
    throw lastError ?? new Error('cluster did not start')
  }

  private async create (): Promise<void> {
    const dir = resolve(this.opts.dir)
    mkdirSync(dir, { recursive: true })
    const basePort = await findBasePort(this.opts.validators)
    const chainId = this.opts.chainId ?? 'medchain-bench'
    const { genesis, homes } = writeTestnet({ validators: this.opts.validators, out: dir, chainId, basePort })
    this.chainId = genesis.chainId
    for (const [i, home] of homes.entries()) {
      const config = readConfig(home)
      config.log.level = this.opts.logLevel ?? 'warn'
      writeConfig(home, config)
      const key = loadKey(home)
      this.nodes.push({
        index: i,
        name: config.moniker,
        home,
        dataDir: homePaths(home).data,
        api: `http://${config.api.host}:${config.api.port}`,
        metrics: `http://${config.metrics.host}:${config.metrics.port}/metrics`,
        publicKeyHex: genesis.validators[i].publicKey,
        seed: key.seed,
        nodeArgs: this.opts.nodeArgs?.(i) ?? [],
        child: null
      })
    }
  }

  /** Starts (or restarts) validator i and waits until its API answers. */
  async startNode (i: number): Promise<void> {
    const n = this.nodes[i]
    if (n.child !== null && n.child.exitCode === null && n.child.signalCode === null) return
    const log = openSync(homePaths(n.home).log, 'a')
    const child = spawn(process.execPath, [...n.nodeArgs, cliMain(), 'start', '--home', n.home], { stdio: ['ignore', log, log], cwd: n.home })
    closeSync(log)
    n.child = child
    await waitForApi(n.api, child, 30_000, homePaths(n.home).log)
  }

  /** Stops validator i (SIGTERM, then SIGKILL after 10 s) and waits for it to exit. */
  async stopNode (i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.nodes[i].child
    if (c === null || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>(resolve => c.once('exit', () => resolve()))
    c.kill(signal)
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }

  running (i: number): boolean {
    const c = this.nodes[i].child
    return c !== null && c.exitCode === null && c.signalCode === null
  }

  pid (i: number): number | null {
    return this.running(i) ? this.nodes[i].child?.pid ?? null : null
  }

  /** Waits until every running validator reports ready (quorum connected) and height ≥ 1. */
  async waitReady (timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (const n of this.nodes) {
      if (!this.running(n.index)) continue
      for (;;) {
        try {
          const r = await fetch(`${n.api}/readyz`)
          const s = await (await fetch(`${n.api}/v1/status`)).json() as { height: number }
          if (r.ok && s.height >= 1) break
        } catch {}
        if (Date.now() > deadline) throw new Error(`${n.name} not ready within ${timeoutMs} ms (see ${homePaths(n.home).log})`)
        await new Promise(resolve => setTimeout(resolve, 200))
      }
    }
  }

  async height (i: number): Promise<number> {
    const s = await (await fetch(`${this.nodes[i].api}/v1/status`)).json() as { height: number }
    return s.height
  }

  /** Stops every validator this cluster started. */
  async stop (): Promise<void> {
    await Promise.all(this.nodes.map(async n => await this.stopNode(n.index)))
    liveClusters.delete(this)
  }

  logPath (i: number): string { return join(this.nodes[i].home, 'node.log') }
}
