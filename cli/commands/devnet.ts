import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { readGenesis } from '../../node/genesis.js'
import { readConfig } from '../../node/config.js'
import { homePaths } from '../home.js'
import { writeTestnet } from './testnet.js'
import { writePrometheusFiles } from '../prometheus.js'

export interface DevnetNode { name: string, pid: number, api: string, dashboard: string, metrics: string, p2p: string, home: string }
export interface DevnetInfo { chainId: string, home: string, nodes: DevnetNode[] }

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url))

/** Resolves once a validator process's API answers /healthz; rejects if the process exits first. */
export async function waitForApi (url: string, child: ChildProcess, timeoutMs: number, logPath?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`validator ${child.pid} exited (${child.exitCode ?? child.signalCode}) before its API answered` + (logPath === undefined ? '' : `; last lines of ${logPath}:\n${logTail(logPath, 3)}`))
    }
    try {
      const res = await fetch(`${url}/healthz`)
      if (res.ok) return
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`)
}

function logTail (path: string, lines: number): string {
  try { return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') } catch { return '(no log)' }
}

/** Starts one validator process per home of a devnet folder; returns once every API answers. */
export async function runDevnet (opts: { validators: number, home: string, basePort: number, chainId: string }): Promise<{ info: DevnetInfo, children: ChildProcess[] }> {
  const home = resolve(opts.home)
  if (!existsSync(join(home, 'node0', 'genesis.json'))) {
    writeTestnet({ validators: opts.validators, out: home, chainId: opts.chainId, basePort: opts.basePort })
  }
  const homes = readdirSync(home).filter(d => /^node\d+$/.test(d)).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))).map(d => join(home, d))
  const genesis = readGenesis(homePaths(homes[0]).genesis)
  const children: ChildProcess[] = []
  const nodes: DevnetNode[] = []
  for (const h of homes) {
    const p = homePaths(h)
    const config = readConfig(h)
    const log = openSync(p.log, 'a')
    const child = spawn(process.execPath, [MAIN, 'start', '--home', h], { stdio: ['ignore', log, log], detached: false })
    children.push(child)
    const api = `${config.api.tlsCert === '' ? 'http' : 'https'}://${config.api.host}:${config.api.port}`
    nodes.push({ name: config.moniker, pid: child.pid ?? -1, api, dashboard: `${api}/`, metrics: `http://${config.metrics.host}:${config.metrics.port}/metrics`, p2p: `/ip4/${config.p2p.host}/tcp/${config.p2p.port}`, home: h })
  }
  await Promise.all(nodes.map((n, i) => waitForApi(n.api, children[i], 90_000, homePaths(n.home).log)))
  const info: DevnetInfo = { chainId: genesis.chainId, home, nodes }
  writeFileSync(join(home, 'devnet.json'), JSON.stringify(info, null, 2) + '\n')
  writePrometheusFiles(home, info)
  return { info, children }
}

export function stopChildren (children: ChildProcess[]): Promise<void> {
  return Promise.all(children.map(async c => {
    if (c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>(resolve => c.once('exit', () => resolve()))
    c.kill('SIGTERM')
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  })).then(() => {})
}

export function devnetCommand (): Command {
  return new Command('devnet')
    .description('create (or reuse) a local consortium and run each validator as its own process; Ctrl-C stops them all')
    .option('--validators <n>', 'number of validators when creating', v => parseInt(v, 10), 4)
    .option('--home <dir>', 'devnet folder (node homes, devnet.json, logs)', '.devnet')
    .option('--base-port <port>', 'API port of node0 (node i: base+10i API, base+10i+1 p2p)', v => parseInt(v, 10), 26600)
    .option('--chain-id <id>', 'chain id when creating', 'medchain-devnet')
    .action(async (o: { validators: number, home: string, basePort: number, chainId: string }) => {
      const { info, children } = await runDevnet(o)
      console.log(`medchain devnet "${info.chainId}" with ${info.nodes.length} validators (home ${info.home})`)
      for (const n of info.nodes) {
        console.log(`  ${n.name.padEnd(7)} pid ${String(n.pid).padEnd(7)} api ${n.api}  dashboard ${n.dashboard}  metrics ${n.metrics}  p2p ${n.p2p}`)
      }
      console.log(`  written to ${join(info.home, 'devnet.json')}; logs in each node's node.log. Ctrl-C stops every validator.`)
      console.log(`  Prometheus: prometheus --config.file=${join(info.home, 'prometheus.yml')} (alert rules copied next to it; Grafana dashboard in deploy/grafana/)`)
      let stopping = false
      const stop = (): void => {
        if (stopping) return
        stopping = true
        console.log('stopping validators…')
        void stopChildren(children).then(() => process.exit(0))
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      for (const [i, c] of children.entries()) {
        c.on('exit', (code, signal) => { if (!stopping) console.log(`${info.nodes[i].name} exited (code ${code}, signal ${signal}); see ${homePaths(info.nodes[i].home).log}`) })
      }
    })
}
