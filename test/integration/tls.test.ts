// HTTPS end to end on real validator processes (issue 13 item 3): `testnet --tls` writes a
// local CA and node certificates; a client trusting that CA is served, one trusting only
// the public roots or another CA is refused; the CLI signs and reads over HTTPS; with
// mTLS a client without a certificate from the CA is refused at the handshake.
import t from 'tap'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { toHex } from '../../codec/index.js'
import { generateSeed, readKeyFile, writeKeyFile } from '../../crypto/index.js'
import { writeTestnet, writeTestnetTls } from '../../cli/commands/testnet.js'
import { createCa, issueCert } from '../../cli/tlsCa.js'
import { MedchainClient, fetchWith } from '../../cli/client.js'
import { readConfig } from '../../node/config.js'
import { reserveBasePort } from '../ports.js'
import { waitFor } from '../wait.js'
import { MAIN } from './cluster.js'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'medchain-tls-'))
const basePort = reserveBasePort()
const procs: ChildProcess[] = []
t.teardown(() => { for (const p of procs) p.kill('SIGKILL') })

interface Net { out: string, home: string, api: string, ca: Buffer, client?: { cert: Buffer, key: Buffer }, seed: Uint8Array }

async function testnet (name: string, port: number, mtls: boolean): Promise<Net> {
  const out = join(dir, name)
  const { homes } = writeTestnet({ validators: 1, out, chainId: `medchain-${name}`, basePort: port })
  const files = await writeTestnetTls(out, homes, { mtls })
  return {
    out,
    home: homes[0],
    api: `https://127.0.0.1:${port}`,
    ca: readFileSync(files.ca),
    ...(files.client !== undefined ? { client: { cert: readFileSync(files.client.cert), key: readFileSync(files.client.key) } } : {}),
    seed: readKeyFile(join(homes[0], 'node_key.json')).seed
  }
}

function start (net: Net): void {
  const log = openSync(join(net.home, 'node.log'), 'a')
  procs.push(spawn(process.execPath, [MAIN, 'start', '--home', net.home], { stdio: ['ignore', log, log] }))
}

/** The error code of a refused fetch: the TLS check's or the alert's, from the cause. */
async function refusal (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) {
    const e = err as { code?: string, cause?: { code?: string } }
    return `${e.code ?? ''}/${e.cause?.code ?? ''}`
  }
  return 'served'
}

let tls: Net
let mtls: Net
t.before(async () => {
  tls = await testnet('tls', basePort, false)
  mtls = await testnet('mtls', basePort + 100, true)
  start(tls)
  start(mtls)
  const trusting = fetchWith({ ca: tls.ca })
  const mutual = fetchWith({ ca: mtls.ca, cert: mtls.client?.cert, key: mtls.client?.key })
  await waitFor('the TLS node to answer /healthz over HTTPS', 90_000, async () => (await trusting(`${tls.api}/healthz`)).ok, 200)
  await waitFor('the mTLS node to answer /healthz over HTTPS', 90_000, async () => (await mutual(`${mtls.api}/healthz`)).ok, 200)
})

t.test('testnet --tls names the node certificate and key in config.toml; --mtls also the client CA', async t => {
  const c = readConfig(tls.home)
  t.same([c.api.tlsCert, c.api.tlsKey, c.api.tlsClientCa], ['tls/node.pem', 'tls/node-key.pem', ''])
  t.equal(readConfig(mtls.home).api.tlsClientCa, 'tls/ca.pem')
  t.match(readFileSync(join(tls.home, 'node.log'), 'utf8'), /API serves HTTPS/, 'start-up says HTTPS')
})

t.test('HTTPS with the testnet CA is served, at 127.0.0.1 and at localhost (SANs)', async t => {
  const member = new MedchainClient(tls.api, { key: tls.seed, tls: { ca: tls.ca } })
  const status = await member.get<{ chainId: string }>('/v1/status')
  t.equal(status.chainId, 'medchain-tls')
  const res = await fetchWith({ ca: tls.ca })(`https://localhost:${basePort}/healthz`)
  t.equal(res.status, 200, 'localhost is in the certificate too')
})

t.test('a client without the CA is refused: the certificate does not verify', async t => {
  t.match(await refusal(fetch(`${tls.api}/healthz`)), /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/, 'public roots only')
  const otherCa = await createCa('some other CA')
  t.match(await refusal(fetchWith({ ca: otherCa.cert })(`${tls.api}/healthz`)), /^CLIENT_FETCH_FAILED\/(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/, 'another CA')
  t.match(await refusal(fetch(`http://127.0.0.1:${basePort}/healthz`).then(r => { if (r.ok) throw new Error('plain HTTP served') })), /./, 'plain HTTP on the HTTPS port is not served')
})

t.test('the CLI signs and reads over HTTPS with --ca (and MEDCHAIN_CA); without it, a certificate error', async t => {
  const patientFile = join(dir, 'patient.json')
  const patient = writeKeyFile(patientFile, generateSeed())
  const patientId = toHex(patient.publicKey)
  const cli = async (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> => {
    try {
      const r = await run(process.execPath, [MAIN, ...args], { env: { ...process.env, MEDCHAIN_CA: '', ...env }, timeout: 60_000 })
      return { code: 0, stdout: r.stdout, stderr: r.stderr }
    } catch (err) {
      const e = err as { code: number, stdout: string, stderr: string }
      return { code: e.code, stdout: e.stdout, stderr: e.stderr }
    }
  }
  const caFile = join(tls.out, 'ca', 'ca.pem')
  const reg = await cli(['tx', 'patient.register', '--key', patientFile, '--body', '{}', '--wait', '--node', tls.api, '--ca', caFile])
  t.equal(reg.code, 0, reg.stderr)
  t.equal(JSON.parse(reg.stdout).code, 'OK', 'the patient registered over HTTPS')

  const read = await cli(['query', 'consents', patientId, '--key', patientFile, '--node', tls.api], { MEDCHAIN_CA: caFile })
  t.equal(read.code, 0, read.stderr)
  t.same(JSON.parse(read.stdout).consents, [], 'the patient\'s own (empty) consents, an authenticated read')

  const anon = await cli(['query', 'consents', patientId, '--node', tls.api, '--ca', caFile])
  t.match(anon.stderr, /AUTH_MISSING/, 'the same read without --key is still 401 over HTTPS')

  const noCa = await cli(['query', 'consents', patientId, '--key', patientFile, '--node', tls.api])
  t.not(noCa.code, 0)
  t.match(noCa.stderr, /CLIENT_FETCH_FAILED.*(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE).*--ca/, 'refused with the certificate error and the flag to pass')
})

t.test('mTLS: no client certificate or one from another CA is refused; the CA-signed one is served', async t => {
  t.match(await refusal(fetchWith({ ca: mtls.ca })(`${mtls.api}/healthz`)), /^CLIENT_FETCH_FAILED\/(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET|UND_ERR_SOCKET)$/, 'no client certificate')
  const otherCa = await createCa('some other CA')
  const stranger = await issueCert(otherCa, { commonName: 'stranger', usage: 'client' })
  t.match(await refusal(fetchWith({ ca: mtls.ca, cert: stranger.cert, key: stranger.key })(`${mtls.api}/healthz`)), /^CLIENT_FETCH_FAILED\/(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE|ECONNRESET|UND_ERR_SOCKET)$/, 'a client certificate from another CA')

  const member = new MedchainClient(mtls.api, { key: mtls.seed, tls: { ca: mtls.ca, cert: mtls.client?.cert, key: mtls.client?.key } })
  t.equal((await member.get<{ chainId: string }>('/v1/status')).chainId, 'medchain-mtls', 'the testnet client certificate is served')
  const validators = await member.get<unknown[]>('/v1/validators')
  t.equal(validators.length, 1, 'and an authenticated member read works over mTLS')
})
