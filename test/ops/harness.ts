// Shared by the operator-surface tests: a real devnet started through the `medchain devnet`
// command (compiled, as operators run it), free ports, and a small healthcare workload.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { toHex } from '../../codec/index.js'
import { generateSeed } from '../../crypto/index.js'
import { buildTx, fastSigner, type TxBody, type TxKind, type TxSigner } from '../../ledger/index.js'
import { MedchainClient } from '../../cli/client.js'
import { loadKey } from '../../cli/home.js'
import { reserveBasePort } from '../ports.js'
import { sleep, waitFor } from '../wait.js'

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const MAIN = join(ROOT, 'dist', 'cli', 'main.js')

export interface DevnetJson { chainId: string, home: string, nodes: Array<{ name: string, pid: number, api: string, metrics: string, p2p: string, home: string }> }

export interface RunningDevnet {
  dir: string
  info: DevnetJson
  process: ChildProcess
  clients: MedchainClient[]
  /** SIGKILLs one validator process (consensus loses that vote). */
  killNode: (index: number) => void
  stop: () => Promise<void>
}

/** A base port where node i's API (base+10i) and p2p (base+10i+1) ports are reserved (test/ports.ts). */
export async function freeBasePort (validators: number): Promise<number> {
  if (validators > 20) throw new Error(`a test slot holds 20 validators, not ${validators}`)
  return reserveBasePort()
}

export function requireBuild (): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run npm run build first (npm test does it in pretest)`)
}

/** Runs `medchain devnet` in a fresh temp folder; resolves once devnet.json is written (every API answers). */
export async function startDevnet (validators: number, name: string): Promise<RunningDevnet> {
  requireBuild()
  const dir = mkdtempSync(join(tmpdir(), `medchain-${name}-`))
  const basePort = await freeBasePort(validators)
  const child = spawn(process.execPath, [MAIN, 'devnet', '--home', dir, '--validators', String(validators), '--base-port', String(basePort), '--chain-id', `ops-${name}`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  // Its own process group: the devnet and every validator it spawns, killable together.
  const killGroup = (signal: NodeJS.Signals): void => { try { if (child.pid !== undefined) process.kill(-child.pid, signal) } catch {} }
  let output = ''
  child.stdout?.on('data', d => { output += String(d) })
  child.stderr?.on('data', d => { output += String(d) })
  const infoPath = join(dir, 'devnet.json')
  const deadline = Date.now() + 120_000
  while (!existsSync(join(dir, 'prometheus.yml'))) {
    if (child.exitCode !== null) { killGroup('SIGKILL'); rmSync(dir, { recursive: true, force: true }); throw new Error(`medchain devnet exited with ${child.exitCode}: ${output}`) }
    if (Date.now() > deadline) { killGroup('SIGKILL'); rmSync(dir, { recursive: true, force: true }); throw new Error(`devnet did not start within 120 s: ${output}`) }
    await sleep(100)
  }
  const info = JSON.parse(readFileSync(infoPath, 'utf8')) as DevnetJson
  const killed = new Set<number>()
  const killNode = (i: number): void => {
    try { process.kill(info.nodes[i].pid, 'SIGKILL') } catch {}
    killed.add(i)
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      await Promise.race([exited, sleep(8000)])
    }
    // Whatever survived the devnet's own shutdown (it was killed, or a node hung): only our pids.
    for (const n of info.nodes) { try { process.kill(n.pid, 'SIGKILL') } catch {} }
    killGroup('SIGKILL')
    if (process.env.MEDCHAIN_KEEP_DEVNET === undefined) rmSync(dir, { recursive: true, force: true })
  }
  return { dir, info, process: child, clients: info.nodes.map(n => new MedchainClient(n.api, { key: loadKey(n.home).seed })), killNode, stop }
}

export async function height (client: MedchainClient): Promise<number> {
  return (await client.get<{ height: number }>('/v1/status')).height
}

/** The identities of the workload: a member (validator key), two providers, patients. */
export interface World {
  member: TxSigner
  physician: TxSigner
  emergency: TxSigner
  patient: TxSigner
  other: TxSigner
  /** Seeds of the patients and providers, to sign API requests as them. */
  seeds: { physician: Uint8Array, emergency: Uint8Array, patient: Uint8Array, other: Uint8Array }
  /** Committed tx ids, by what they did. */
  ids: { registerPhysician: string, grant: string, access: string, breakGlass: string }
}

const DAY = 24 * 60 * 60 * 1000

function expectOk (what: string, res: Record<string, unknown>): void {
  if (res.status !== 'committed' || res.code !== 'OK') throw new Error(`${what} not committed OK: ${JSON.stringify(res)}`)
}

/** Builds, signs and submits one transaction, answering once it is committed (60 s at most). */
export async function sendTx<K extends TxKind> (client: MedchainClient, kind: K, body: TxBody<K>, signer: TxSigner, nonce?: number): Promise<Record<string, unknown> & { id: string }> {
  const built = await client.build(kind, body, signer, nonce)
  const res = await client.submit(built.bytes, { wait: true, timeoutMs: 60_000 })
  return { ...res, id: toHex(built.id) }
}

/** Member registers a physician and an emergency physician; two patients register; one grants the physician. */
export async function setupWorld (client: MedchainClient, memberHome: string): Promise<Omit<World, 'ids'> & { ids: { registerPhysician: string, grant: string } }> {
  const member = fastSigner(loadKey(memberHome).seed)
  const seeds = { physician: generateSeed(), emergency: generateSeed(), patient: generateSeed(), other: generateSeed() }
  const physician = fastSigner(seeds.physician)
  const emergency = fastSigner(seeds.emergency)
  const patient = fastSigner(seeds.patient)
  const other = fastSigner(seeds.other)
  const nonce = await client.nextNonce(member.publicKey)
  const [regP, regE, regPat, regOther] = await Promise.all([
    sendTx(client, 'provider.register', { key: physician.publicKey, role: 'physician', name: 'Dr. Ada Physician' }, member, nonce),
    sendTx(client, 'provider.register', { key: emergency.publicKey, role: 'emergency_physician', name: 'Dr. Emre Emergency' }, member, nonce + 1),
    sendTx(client, 'patient.register', {}, patient, 0),
    sendTx(client, 'patient.register', {}, other, 0)
  ])
  expectOk('physician registration', regP); expectOk('emergency registration', regE); expectOk('patient registration', regPat); expectOk('other patient registration', regOther)
  const now = Date.now()
  const grant = await sendTx(client, 'consent.grant', {
    grantee: { type: 'provider', key: physician.publicKey }, categories: ['*'], actions: ['read'], purposes: ['TREAT'], validFrom: now - 60_000, validUntil: now + 30 * DAY
  }, patient, 1)
  expectOk('consent grant', grant)
  return { member, physician, emergency, patient, other, seeds, ids: { registerPhysician: regP.id, grant: grant.id } }
}

/** The physician reads the patient's labs (permitted by the grant), then the emergency physician breaks the glass. */
export async function accessAndBreakGlass (client: MedchainClient, w: Omit<World, 'ids'>): Promise<{ access: string, breakGlass: string }> {
  const access = await sendTx(client, 'access.log', { patient: w.patient.publicKey, action: 'read', purpose: 'TREAT', category: 'labs' }, w.physician)
  expectOk('access log', access)
  const bg = await sendTx(client, 'access.break_glass', { patient: w.patient.publicKey, purpose: 'ETREAT', reason: 'unconscious in the emergency room', durationMs: 60 * 60 * 1000 }, w.emergency)
  expectOk('break glass', bg)
  return { access: access.id, breakGlass: bg.id }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T> (items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) { const i = next++; await fn(items[i], i) }
  }))
}

/**
 * Load: `patients` new patients each register and grant the physician, and the physician
 * logs a read of each, spread over every node's API; plus refused submissions (a bad
 * signature on each node) so rejection counters have series. Submits everything first,
 * then waits for each commit. Returns how many committed.
 */
export async function runLoad (clients: MedchainClient[], w: Omit<World, 'ids'>, patients: number, concurrency = 32): Promise<number> {
  const chainId = await clients[0].chainId()
  const now = Date.now()
  const physicianNonce = await clients[0].nextNonce(w.physician.publicKey)
  const first: Array<{ bytes: Uint8Array, id: string, node: number }> = []
  const logs: Array<{ bytes: Uint8Array, id: string, node: number }> = []
  for (let i = 0; i < patients; i++) {
    const p = fastSigner(generateSeed())
    const node = i % clients.length
    const reg = buildTx('patient.register', {}, { chainId, signer: p, nonce: 0 })
    const grant = buildTx('consent.grant', { grantee: { type: 'provider', key: w.physician.publicKey }, categories: ['*'], actions: ['read'], purposes: ['TREAT'], validFrom: now - 60_000, validUntil: now + DAY }, { chainId, signer: p, nonce: 1 })
    first.push({ bytes: reg.bytes, id: toHex(reg.id), node }, { bytes: grant.bytes, id: toHex(grant.id), node })
    // Physician logs all go to node 0, in nonce order.
    const log = buildTx('access.log', { patient: p.publicKey, action: 'read', purpose: 'TREAT', category: 'vitals' }, { chainId, signer: w.physician, nonce: physicianNonce + i })
    logs.push({ bytes: log.bytes, id: toHex(log.id), node: 0 })
  }
  // A registration and its grant go to one node one after the other (nonce 0 then 1).
  await pool(Array.from({ length: patients }, (_, i) => i), concurrency, async i => {
    await clients[first[2 * i].node].submit(first[2 * i].bytes)
    await clients[first[2 * i + 1].node].submit(first[2 * i + 1].bytes)
  })
  for (const l of logs) await clients[0].submit(l.bytes)
  const bad = buildTx('patient.register', {}, { chainId, signer: fastSigner(generateSeed()), nonce: 0 }).bytes
  bad[bad.length - 1] ^= 1
  for (const c of clients) await c.submit(bad).catch(() => {})
  let committed = 0
  await pool([...first, ...logs], 16, async tx => {
    const ok = await waitFor(`commit of ${tx.id}`, 60_000, async () => (await clients[tx.node].get<{ status: string }>(`/v1/txs/${tx.id}`)).status === 'committed', 200).catch(() => false)
    if (ok) committed++
  })
  return committed
}

export { toHex, MedchainClient }
