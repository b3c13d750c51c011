// `medchain devnet` as a user runs it: four processes, devnet.json, a consent grant made
// with the CLI visible from every node, and every child stopped on SIGTERM.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MAIN, randomBasePort, sleep } from './cluster.js'
import { MedchainClient } from '../../cli/client.js'
import { fromHex } from '../../codec/index.js'

const dir = mkdtempSync(join(tmpdir(), 'medchain-devnet-'))
const home = join(dir, 'net')
const base = randomBasePort()
const devnet = spawn(process.execPath, [MAIN, 'devnet', '--home', home, '--base-port', String(base)], { stdio: ['ignore', 'pipe', 'pipe'] })
let out = ''
devnet.stdout.on('data', (d: Buffer) => { out += d.toString() })
devnet.stderr.on('data', (d: Buffer) => { out += d.toString() })
t.teardown(() => { if (devnet.exitCode === null) devnet.kill('SIGKILL') })

const cli = (...args: string[]): { status: number | null, json: Record<string, unknown> } => {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000, cwd: dir })
  let json: Record<string, unknown> = {}
  try { json = JSON.parse(r.stdout) } catch { json = { raw: r.stdout + r.stderr } }
  return { status: r.status, json }
}

t.test('devnet prints every URL, writes devnet.json, and a CLI grant is visible on every node', async t => {
  const deadline = Date.now() + 90_000
  while (!existsSync(join(home, 'devnet.json')) && Date.now() < deadline) await sleep(200)
  const info = JSON.parse(readFileSync(join(home, 'devnet.json'), 'utf8')) as { chainId: string, nodes: Array<{ name: string, pid: number, api: string, metrics: string, p2p: string, home: string }> }
  t.equal(info.nodes.length, 4)
  // devnet.json is written just before the URLs are printed: give stdout a moment to arrive.
  const printed = (): boolean => info.nodes.every(n => out.includes(n.api) && out.includes(n.metrics))
  const printDeadline = Date.now() + 15_000
  while (!printed() && Date.now() < printDeadline) await sleep(100)
  for (const n of info.nodes) {
    t.ok(out.includes(n.api) && out.includes(n.metrics), `${n.name}: URLs printed`)
    t.ok(n.pid > 0 && n.p2p.startsWith('/ip4/127.0.0.1/tcp/'), `${n.name}: pid and p2p address recorded`)
  }
  const node0 = info.nodes[0].api
  t.equal(cli('keys', 'generate', '--out', 'patient.json').status, 0)
  t.equal(cli('keys', 'generate', '--out', 'provider.json').status, 0)
  const patientFile = JSON.parse(readFileSync(join(dir, 'patient.json'), 'utf8')) as { publicKey: string, seed: string }
  const patient = patientFile.publicKey
  const provider = JSON.parse(readFileSync(join(dir, 'provider.json'), 'utf8')).publicKey as string
  t.equal(cli('tx', 'patient.register', '--key', 'patient.json', '--node', node0, '--wait', '--body', '{}').json.code, 'OK')
  t.equal(cli('tx', 'provider.register', '--key', join(info.nodes[0].home, 'node_key.json'), '--node', node0, '--wait',
    '--body', JSON.stringify({ key: provider, role: 'physician', name: 'Dr A' })).json.code, 'OK')
  const now = Date.now()
  const grant = cli('tx', 'consent.grant', '--key', 'patient.json', '--node', info.nodes[1].api, '--wait', '--body',
    JSON.stringify({ grantee: { type: 'provider', key: provider }, categories: ['*'], actions: ['read'], purposes: ['TREAT'], validFrom: now, validUntil: now + 86_400_000 }))
  t.equal(grant.json.code, 'OK', 'grant committed')
  for (const n of info.nodes) {
    let seen = false
    for (let i = 0; i < 50 && !seen; i++) {
      // A patient's consents are read by that patient (docs/access-table.md P1).
      const c = await new MedchainClient(n.api, { key: fromHex(patientFile.seed, 32) }).get<{ consents: unknown[] }>(`/v1/patients/${patient}/consents`)
      seen = c.consents.length === 1
      if (!seen) await sleep(200)
    }
    t.ok(seen, `${n.name} shows the grant`)
  }

  const pids = info.nodes.map(n => n.pid)
  const exited = new Promise(resolve => devnet.once('exit', resolve))
  devnet.kill('SIGTERM')
  await exited
  await sleep(500)
  const alive = pids.filter(pid => { try { process.kill(pid, 0); return true } catch { return false } })
  t.same(alive, [], 'SIGTERM to devnet stops every validator')
})
