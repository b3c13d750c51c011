// API completeness on a real single-validator node: every path and method of /openapi.json
// answers as described, every route of node/api.ts is described, bad input gets a 4xx with
// a stable code, and /v1/events notifies a patient of an access and a break-glass event.
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildTx, fastSigner } from '../../ledger/index.js'
import { generateSeed } from '../../crypto/index.js'
import { encode } from '../../codec/index.js'
import { ROOT, startDevnet, setupWorld, accessAndBreakGlass, sendTx, toHex } from './harness.js'
import { waitFor } from '../wait.js'

interface Operation { parameters?: Array<{ name: string, in: string, required?: boolean, schema: { type?: string, pattern?: string, enum?: string[] } }>, responses: Record<string, { content?: Record<string, unknown> }> }
type OpenApi = { openapi: string, paths: Record<string, Record<string, Operation>> }

const ERROR_CODE = /^[A-Z][A-Z0-9_]+$/

/** Reads an SSE stream until `until` holds or the time is up; returns the events seen. */
async function collectEvents (url: string, until: (events: Array<{ event: string, data: any }>) => boolean, timeoutMs: number, opened: () => void): Promise<Array<{ event: string, data: any }>> {
  const ctrl = new AbortController()
  const timer = setTimeout(() => ctrl.abort(), timeoutMs)
  const events: Array<{ event: string, data: any }> = []
  try {
    const res = await fetch(url, { signal: ctrl.signal })
    if (res.headers.get('content-type')?.startsWith('text/event-stream') !== true) throw new Error(`not an event stream: ${res.headers.get('content-type')}`)
    opened()
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    while (!until(events)) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      let cut
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const chunk = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 2)
        const event = /^event: (.*)$/m.exec(chunk)?.[1]
        const data = /^data: (.*)$/m.exec(chunk)?.[1]
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) })
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err
  } finally {
    clearTimeout(timer)
    ctrl.abort()
  }
  return events
}

t.test('API on a single-validator node', async t => {
  const started = Date.now()
  const net = await startDevnet(1, 'api')
  t.teardown(net.stop)
  const base = net.info.nodes[0].api
  const client = net.clients[0]
  const chainId = await client.chainId()
  const world = await setupWorld(client, net.info.nodes[0].home)
  const patientHex = toHex(world.patient.publicKey)
  // Every read is signed (docs/access-table.md): the patient for their own data, the member for the rest.
  const asPatient = client.as(world.seeds.patient)
  const asOther = client.as(world.seeds.other)
  const tokenOf = async (c: typeof client): Promise<string> => (await c.authHeaders()).authorization.slice('Bearer '.length)
  // Patient routes and a patient's state proofs are read by that patient (docs/access-table.md).
  const headersFor = async (url: string): Promise<Record<string, string>> => url.startsWith('/v1/patients/') || /^\/v1\/proofs\/(consent|record|patient)\//.test(url) ? await asPatient.authHeaders() : await client.authHeaders()
  t.comment(`node and world ready in ${Date.now() - started} ms`)

  // Event streams first, so the access and break-glass commits happen while they listen.
  let openedCount = 0
  const wanted = (es: Array<{ event: string, data: any }>): boolean =>
    es.some(e => e.data.kind === 'access.log') && es.some(e => e.data.kind === 'access.break_glass')
  const patientStream = collectEvents(`${base}/v1/events?patient=${patientHex}&access_token=${await tokenOf(asPatient)}`, wanted, 60_000, () => openedCount++)
  const otherStream = collectEvents(`${base}/v1/events?patient=${toHex(world.other.publicKey)}&access_token=${await tokenOf(asOther)}`, es => es.some(e => e.data.kind === 'access.log'), 60_000, () => openedCount++)
  const allStream = collectEvents(`${base}/v1/events?access_token=${await tokenOf(client)}`, es => es.filter(e => e.event === 'block').length >= 2 && es.some(e => e.event === 'tx'), 60_000, () => openedCount++)
  await waitFor('event streams open', 10_000, async () => openedCount === 3)
  const metrics = await (await fetch(net.info.nodes[0].metrics)).text()
  t.match(metrics, /^medchain_api_event_subscribers 3$/m, 'three open streams are counted')

  const ids = await accessAndBreakGlass(client, world)
  const otherAccess = await sendTx(client, 'access.log', { patient: world.other.publicKey, action: 'read', purpose: 'TREAT', category: 'labs' }, world.physician)

  const doc = await (await fetch(`${base}/openapi.json`)).json() as OpenApi & { components: { schemas: Record<string, { required?: string[] }> } }
  t.match(doc.openapi, /^3\./, 'OpenAPI 3 document')

  await t.test('GET /v1/events notifies the patient of access and break-glass, and only of their own events', async t => {
    const mine = await patientStream
    const kinds = mine.map(e => e.data.kind)
    t.ok(mine.every(e => e.event === 'tx'), 'a patient-filtered stream carries tx events only')
    const access = mine.find(e => e.data.id === ids.access)
    const bg = mine.find(e => e.data.id === ids.breakGlass)
    t.ok(access, `access event delivered (kinds seen: ${kinds.join(', ')})`)
    t.ok(bg, 'break-glass event delivered')
    t.equal(access?.data.kind, 'access.log')
    t.equal(bg?.data.kind, 'access.break_glass')
    t.equal(bg?.data.code, 'OK')
    t.ok(Number.isInteger(bg?.data.height) && bg?.data.height > 0, 'event carries its height')
    t.notOk(mine.some(e => e.data.id === otherAccess.id), "another patient's access is not sent to this patient")
    const theirs = await otherStream
    t.ok(theirs.some(e => e.data.id === otherAccess.id), 'the other patient gets their own access event')
    t.notOk(theirs.some(e => e.data.id === ids.breakGlass), "…and not this patient's break-glass")
    const all = await allStream
    const block = all.find(e => e.event === 'block')
    t.ok(block, 'the unfiltered stream carries block events')
    t.match(block?.data, { height: Number, hash: /^[0-9a-f]{64}$/, txCount: Number })
    // Events carry the fields the document promises.
    const need = (name: string): string[] => doc.components.schemas[name]?.required ?? []
    t.ok(need('TxEvent').length > 0 && need('BlockEvent').length > 0, 'TxEvent and BlockEvent are described')
    for (const e of [...mine, ...all]) {
      const missing = need(e.event === 'block' ? 'BlockEvent' : 'TxEvent').filter(k => !(k in e.data))
      if (missing.length > 0) t.fail(`${e.event} event lacks ${missing.join(', ')}: ${JSON.stringify(e.data)}`)
    }
  })


  await t.test('every route of node/api.ts is described', async t => {
    const source = readFileSync(join(ROOT, 'node', 'api.ts'), 'utf8')
    const routes = [...source.matchAll(/app\.(get|post|put|delete|patch)\('([^']+)'/g)].map(m => `${m[1]} ${m[2].replace(/:(\w+)/g, '{$1}')}`).sort()
    const described = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map(m => `${m} ${p}`)).sort()
    t.ok(routes.length >= 20, `${routes.length} routes in node/api.ts`)
    t.same(described, routes, 'OpenAPI paths and methods are exactly the routes served')
  })

  // Values for every path and required query parameter, taken from the committed world.
  const latest = await client.get<{ height: number }>('/v1/status')
  const samples: Record<string, string> = {
    id: patientHex, key: toHex(world.member.publicKey), height: String(Math.max(1, latest.height)),
    patient: patientHex, grantee: toHex(world.physician.publicKey), category: 'labs', action: 'read', purpose: 'TREAT',
    grant: patientHex, record: patientHex // never granted / anchored: the proof routes answer with an absence proof
  }
  const txPaths = new Set(['/v1/txs/{id}', '/v1/txs/{id}/receipt', '/v1/proofs/tx/{id}'])

  await t.test('every path and method answers as described', async t => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (path === '/v1/events') continue // streamed, checked above
        const params = op.parameters ?? []
        let url = path.replace(/\{(\w+)\}/g, (_m, name: string) => txPaths.has(path) && name === 'id' ? ids.access : samples[name])
        const query = params.filter(p => p.in === 'query' && p.required === true).map(p => `${p.name}=${encodeURIComponent(samples[p.name])}`)
        if (query.length > 0) url += '?' + query.join('&')
        let res: Response
        if (method === 'post') {
          const tx = buildTx('patient.register', {}, { chainId, signer: fastSigner(generateSeed()), nonce: 0 })
          res = await fetch(base + url, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: tx.bytes as Uint8Array<ArrayBuffer> })
        } else {
          res = await fetch(base + url, { headers: await headersFor(url) })
        }
        const status = String(res.status)
        const described = op.responses[status]
        t.ok(described, `${method.toUpperCase()} ${url} → ${status} is a documented response (${Object.keys(op.responses).join(', ')})`)
        t.ok(res.status < 400 || (path === '/readyz' && res.status === 503), `${method.toUpperCase()} ${path} succeeds`)
        const types = Object.keys(described?.content ?? {})
        const got = res.headers.get('content-type') ?? ''
        t.ok(types.some(ty => got.startsWith(ty)), `${path}: content-type ${got} is one of ${types.join(', ')}`)
        const body = await res.text()
        if (got.startsWith('application/json')) {
          const parsed = JSON.parse(body)
          const schema = (described?.content?.['application/json'] as { schema?: { type?: string } } | undefined)?.schema
          if (schema?.type === 'array') t.ok(Array.isArray(parsed), `${path} answers an array`)
          if (schema?.type === 'object') t.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), `${path} answers an object`)
        }
      }
    }
  })

  await t.test('health and readiness', async t => {
    const h = await fetch(`${base}/healthz`)
    t.equal(h.status, 200)
    t.same(await h.json(), { ok: true })
    const r = await fetch(`${base}/readyz`)
    t.equal(r.status, 200, 'a lone validator in consensus is ready')
    t.match(await r.json(), { ready: true })
  })

  const expectError = async (t: Test, what: string, res: Response, status: number, code: RegExp | string, op?: Operation): Promise<void> => {
    t.equal(res.status, status, `${what}: status`)
    if (op !== undefined) t.ok(op.responses[String(res.status)], `${what}: ${res.status} is documented`)
    t.match(res.headers.get('content-type') ?? '', /^application\/json/, `${what}: JSON`)
    const body = await res.json() as { error?: { code?: string, message?: string } }
    t.match(body.error?.code ?? '', ERROR_CODE, `${what}: stable code ${body.error?.code}`)
    t.type(body.error?.message, 'string', `${what}: message`)
    t.match(body.error?.code ?? '', code, `${what}: code ${body.error?.code}`)
  }

  await t.test('bad input gets a 4xx with a stable error code', async t => {
    const txOp = doc.paths['/v1/txs'].post
    const post = (body: BodyInit, type = 'application/cbor'): Promise<Response> => fetch(`${base}/v1/txs`, { method: 'POST', headers: { 'content-type': type }, body })
    const good = buildTx('patient.register', {}, { chainId, signer: fastSigner(generateSeed()), nonce: 0 }).bytes
    await expectError(t, 'malformed CBOR', await post(new Uint8Array([0xa1, 0xff, 0x00])), 400, /^(TX|CODEC)_/, txOp)
    await expectError(t, 'trailing bytes', await post(new Uint8Array([...good, 0x00])), 400, /^(TX|CODEC)_/, txOp)
    await expectError(t, 'CBOR of the wrong shape', await post(encode({ tx: 'not a tx', sig: 1 })), 400, /^(TX|CODEC)_/, txOp)
    const badSig = new Uint8Array(good)
    badSig[badSig.length - 1] ^= 1
    await expectError(t, 'bad signature', await post(badSig), 400, 'TX_BAD_SIGNATURE', txOp)
    const wrongChain = buildTx('patient.register', {}, { chainId: chainId + '-other', signer: fastSigner(generateSeed()), nonce: 0 }).bytes
    await expectError(t, 'wrong chain id', await post(wrongChain), 400, 'TX_WRONG_CHAIN', txOp)
    await expectError(t, 'oversize body', await post(new Uint8Array(2 * 1024 * 1024)), 413, 'API_BODY_TOO_LARGE', txOp)
    const bigTx = buildTx('access.break_glass', { patient: world.patient.publicKey, purpose: 'ETREAT', reason: 'x'.repeat(400), durationMs: 1000 }, { chainId, signer: world.emergency, nonce: 0 }).bytes
    const padded = new Uint8Array(20 * 1024); padded.set(bigTx)
    await expectError(t, 'transaction larger than 16 KiB', await post(padded), 400, /^(TX|CODEC)_/, txOp)
    await expectError(t, 'empty body', await post(new Uint8Array(0)), 400, /^API_/, txOp)
    await expectError(t, 'JSON with a wrong type', await post(JSON.stringify({ tx: 42 }), 'application/json'), 400, 'API_BAD_REQUEST', txOp)
    await expectError(t, 'JSON with an unknown field', await post(JSON.stringify({ tx: 'AA==', extra: 1 }), 'application/json'), 400, 'API_BAD_REQUEST', txOp)
    await expectError(t, 'malformed JSON', await post('{"tx":', 'application/json'), 400, /^API_/, txOp)
    await expectError(t, 'unsupported media type', await post('hello', 'text/plain'), 415, 'API_UNSUPPORTED_MEDIA_TYPE', txOp)
    await expectError(t, 'bad wait parameter', await fetch(`${base}/v1/txs?wait=forever`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: good as Uint8Array<ArrayBuffer> }), 400, 'API_BAD_REQUEST', txOp)
    // Every path with a hex id or an integer refuses a malformed one.
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const p of ops.get?.parameters ?? []) {
        if (p.in !== 'path') continue
        const bad = p.schema.pattern !== undefined ? 'zz' + '0'.repeat(62) : p.schema.type === 'integer' ? 'abc' : null
        if (bad === null) continue
        const url = path.replace(`{${p.name}}`, bad).replace(/\{(\w+)\}/g, (_m, n: string) => samples[n])
        await expectError(t, `GET ${url}`, await fetch(base + url, { headers: await headersFor(url) }), 400, 'API_BAD_REQUEST', ops.get)
      }
    }
    await expectError(t, 'wrong type in a query', await fetch(`${base}/v1/blocks?limit=abc`, { headers: await client.authHeaders() }), 400, 'API_BAD_REQUEST', doc.paths['/v1/blocks'].get)
    await expectError(t, 'out-of-range query', await fetch(`${base}/v1/blocks?limit=100000`, { headers: await client.authHeaders() }), 400, 'API_BAD_REQUEST', doc.paths['/v1/blocks'].get)
    await expectError(t, 'missing required query', await fetch(`${base}/v1/decision?patient=${patientHex}`, { headers: await client.authHeaders() }), 400, 'API_BAD_REQUEST', doc.paths['/v1/decision'].get)
    await expectError(t, 'unknown tx', await fetch(`${base}/v1/txs/${'0'.repeat(64)}`, { headers: await client.authHeaders() }), 404, 'API_NOT_FOUND', doc.paths['/v1/txs/{id}'].get)
    await expectError(t, 'unknown block', await fetch(`${base}/v1/blocks/99999999`, { headers: await client.authHeaders() }), 404, 'API_NOT_FOUND', doc.paths['/v1/blocks/{height}'].get)
    await expectError(t, 'anonymous read of a patient\'s trail', await fetch(`${base}/v1/patients/${patientHex}/audit`), 401, 'AUTH_MISSING', doc.paths['/v1/patients/{id}/audit'].get)
    await expectError(t, 'another patient\'s token', await fetch(`${base}/v1/patients/${patientHex}/audit`, { headers: await asOther.authHeaders() }), 403, 'ACCESS_NOT_YOURS', doc.paths['/v1/patients/{id}/audit'].get)
    await expectError(t, 'unknown route', await fetch(`${base}/v2/nothing`), 404, 'API_NOT_FOUND')
  })
  t.comment(`total ${Date.now() - started} ms`)
})
