import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { CodecError, fromBase64, fromHex } from '../codec/index.js'
import { NodeError } from './errors.js'
import { toJson } from './json.js'
import type { Metrics } from './metrics.js'
import type { PageRequest } from '../ledger/index.js'
import { PAGE_QUERY_PROPERTIES, decisionParams, pageParams, type DecisionParams } from './query/params.js'
import { registerFhirRoutes, type FhirBackend } from './fhir-api.js'

/** What the HTTP API needs from a running node. */
export interface ApiBackend {
  status (): Record<string, unknown>
  ready (): { ready: boolean, reason: string }
  submitTx (bytes: Uint8Array): { id: string }
  waitForCommit (id: string, timeoutMs: number): Promise<unknown>
  getTx (id: string): Promise<unknown | null>
  getReceipt (id: string): Promise<unknown | null>
  getBlock (height: number | 'latest'): Promise<unknown | null>
  listBlocks (before: number | null, limit: number): Promise<unknown[]>
  validators (): unknown[]
  account (key: string): unknown
  patientConsents (patientId: string, at: number | null, page: PageRequest): unknown
  patientAudit (patientId: string, page: PageRequest): Promise<unknown>
  patientRequests (patientId: string, page: PageRequest): unknown
  patientRecords (patientId: string, page: PageRequest): unknown
  patientBreakGlass (patientId: string): Promise<unknown[]>
  decision (q: DecisionParams): unknown
  subscribe (listener: (event: ChainEvent) => void): () => void
  metricsText (): Promise<string>
  explorerHtml (): string
  openApi (): unknown
  /** FHIR R4 routes under /fhir (node/fhir-api.ts). */
  fhir?: FhirBackend
}

/** What the event stream carries: committed blocks and, per transaction, the patients it touches. */
export interface ChainEvent { type: 'block' | 'tx', height: number, data: unknown, patients?: string[] }

const HEX64 = '^[0-9a-f]{64}$'

function sendError (reply: FastifyReply, status: number, code: string, message: string, value?: unknown, details: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).type('application/json').send({ error: { ...(toJson(details) as object), code, message, ...(value !== undefined ? { value: toJson(value) } : {}) } })
}

/**
 * The node's HTTP JSON API. Every error is `{error: {code, message}}` with a 4xx
 * status for bad input; a failure of the node itself is 500 with code INTERNAL.
 */
/** Bytes an event-stream client may leave unread before it is disconnected. */
export const DEFAULT_MAX_EVENT_BACKLOG_BYTES = 4 * 1024 * 1024

export async function createApi (backend: ApiBackend, opts: { maxBodyBytes: number, maxEventBacklogBytes?: number, metrics?: Metrics, log?: (msg: string) => void }): Promise<FastifyInstance> {
  const maxBacklog = opts.maxEventBacklogBytes ?? DEFAULT_MAX_EVENT_BACKLOG_BYTES
  const app = Fastify({ logger: false, bodyLimit: opts.maxBodyBytes, keepAliveTimeout: 60_000, ajv: { customOptions: { allErrors: false, coerceTypes: true } } })

  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('application/cbor', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof NodeError) return sendError(reply, err.status, err.code, err.message, err.value, err.details)
    if (err instanceof CodecError) return sendError(reply, 400, err.code, err.message, err.value)
    const e = err as { code?: string, statusCode?: number, message?: string, validation?: unknown, value?: unknown }
    if (e.validation !== undefined) return sendError(reply, 400, 'API_BAD_REQUEST', e.message ?? 'bad request')
    if (typeof e.code === 'string' && /^(TX|LEDGER|CODEC|MEMPOOL)_/.test(e.code)) return sendError(reply, 400, e.code, e.message ?? '', e.value)
    if (e.statusCode === 413 || e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 413, 'API_BODY_TOO_LARGE', `body larger than ${opts.maxBodyBytes} bytes`)
    if (e.statusCode === 415 || e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, 415, 'API_UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported content type')
    if (e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return sendError(reply, 400, 'API_BAD_JSON', e.message ?? 'malformed JSON')
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return sendError(reply, e.statusCode, 'API_BAD_REQUEST', e.message ?? 'bad request')
    opts.log?.(`api: internal error: ${(err as Error).stack ?? String(err)}`)
    return sendError(reply, 500, 'INTERNAL', 'internal error')
  })
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'API_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`))

  if (opts.metrics !== undefined) {
    const m = opts.metrics
    app.addHook('onResponse', async (req, reply) => {
      m.httpRequests.inc({ route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) })
    })
  }

  const json = (reply: FastifyReply, value: unknown): FastifyReply => reply.type('application/json').send(JSON.stringify(toJson(value)))
  const notFound = (reply: FastifyReply, what: string, id: string): FastifyReply => sendError(reply, 404, 'API_NOT_FOUND', `${what} ${id} not found`, id)

  app.get('/healthz', async (_req, reply) => json(reply, { ok: true }))
  app.get('/readyz', async (_req, reply) => {
    const r = backend.ready()
    return json(reply.code(r.ready ? 200 : 503), r)
  })
  app.get('/v1/status', async (_req, reply) => json(reply, backend.status()))
  app.get('/v1/validators', async (_req, reply) => json(reply, backend.validators()))
  app.get('/v1/accounts/:key', { schema: { params: { type: 'object', properties: { key: { type: 'string', pattern: HEX64 } } } } },
    async (req: FastifyRequest<{ Params: { key: string } }>, reply) => json(reply, backend.account(req.params.key)))
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(await backend.metricsText()))
  app.get('/openapi.json', async (_req, reply) => json(reply, backend.openApi()))
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(backend.explorerHtml()))

  app.post('/v1/txs', {
    schema: { querystring: { type: 'object', properties: { wait: { type: 'string', enum: ['commit', 'none'] }, timeoutMs: { type: 'integer', minimum: 1, maximum: 120_000 } }, additionalProperties: false } }
  }, async (req: FastifyRequest<{ Querystring: { wait?: string, timeoutMs?: number } }>, reply) => {
    const bytes = txBytesOf(req)
    const { id } = backend.submitTx(bytes)
    if (req.query.wait === 'commit') {
      const result = await backend.waitForCommit(id, req.query.timeoutMs ?? 30_000)
      return json(reply.code(200), result)
    }
    return json(reply.code(202), { id, status: 'pending' })
  })

  // Committed: the result's code and, for a failure, its reason (`log`, e.g. ACTION_NOT_GRANTED).
  app.get('/v1/txs/:id', { schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: HEX64 } } } } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const tx = await backend.getTx(req.params.id)
      return tx === null ? notFound(reply, 'transaction', req.params.id) : json(reply, tx)
    })
  app.get('/v1/txs/:id/receipt', { schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: HEX64 } } } } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const r = await backend.getReceipt(req.params.id)
      return r === null ? notFound(reply, 'committed transaction', req.params.id) : json(reply, r)
    })

  app.get('/v1/blocks', { schema: { querystring: { type: 'object', properties: { before: { type: 'integer', minimum: 1 }, limit: { type: 'integer', minimum: 1, maximum: 100 } }, additionalProperties: false } } },
    async (req: FastifyRequest<{ Querystring: { before?: number, limit?: number } }>, reply) => json(reply, await backend.listBlocks(req.query.before ?? null, req.query.limit ?? 20)))
  app.get('/v1/blocks/latest', async (_req, reply) => {
    const b = await backend.getBlock('latest')
    return b === null ? notFound(reply, 'block', 'latest') : json(reply, b)
  })
  app.get('/v1/blocks/:height', { schema: { params: { type: 'object', properties: { height: { type: 'integer', minimum: 1 } } } } },
    async (req: FastifyRequest<{ Params: { height: number } }>, reply) => {
      const b = await backend.getBlock(req.params.height)
      return b === null ? notFound(reply, 'block', String(req.params.height)) : json(reply, b)
    })

  const patientParams = { schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: HEX64 } } } } }
  // Newest first, a page at a time: `next` (or an item's `cursor`) continues with before/after.
  type PageQuery = { before?: string, after?: string, limit?: number }
  const paged = (extra: Record<string, unknown> = {}): { schema: Record<string, unknown> } => ({
    schema: { ...patientParams.schema, querystring: { type: 'object', properties: { ...PAGE_QUERY_PROPERTIES, ...extra }, additionalProperties: false } }
  })
  app.get('/v1/patients/:id/consents', paged({ at: { type: 'integer', minimum: 0 } }),
    async (req: FastifyRequest<{ Params: { id: string }, Querystring: PageQuery & { at?: number } }>, reply) =>
      json(reply, backend.patientConsents(req.params.id, req.query.at ?? null, pageParams('items', req.query))))
  app.get('/v1/patients/:id/audit', paged(),
    async (req: FastifyRequest<{ Params: { id: string }, Querystring: PageQuery }>, reply) => json(reply, await backend.patientAudit(req.params.id, pageParams('audit', req.query))))
  app.get('/v1/patients/:id/requests', paged(),
    async (req: FastifyRequest<{ Params: { id: string }, Querystring: PageQuery }>, reply) => json(reply, backend.patientRequests(req.params.id, pageParams('items', req.query))))
  app.get('/v1/patients/:id/records', paged(),
    async (req: FastifyRequest<{ Params: { id: string }, Querystring: PageQuery }>, reply) => json(reply, backend.patientRecords(req.params.id, pageParams('items', req.query))))
  app.get('/v1/patients/:id/break-glass', patientParams, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => json(reply, await backend.patientBreakGlass(req.params.id)))

  app.get('/v1/decision', {
    schema: {
      querystring: {
        type: 'object',
        required: ['patient', 'grantee', 'category', 'action', 'purpose'],
        properties: {
          patient: { type: 'string', pattern: HEX64 },
          grantee: { type: 'string', pattern: HEX64 },
          // Words are checked against the ledger's lists in decisionParams: API_BAD_<FIELD> with the allowed ones.
          category: { type: 'string', maxLength: 64 },
          action: { type: 'string', maxLength: 64 },
          purpose: { type: 'string', maxLength: 64 },
          time: { type: 'integer', minimum: 0 }
        },
        additionalProperties: false
      }
    }
  }, async (req: FastifyRequest<{ Querystring: { patient: string, grantee: string, category: string, action: string, purpose: string, time?: number } }>, reply) =>
    json(reply, backend.decision(decisionParams(req.query))))

  if (backend.fhir !== undefined) registerFhirRoutes(app, backend.fhir)

  app.get('/v1/events', {
    schema: { querystring: { type: 'object', properties: { patient: { type: 'string', pattern: HEX64 } }, additionalProperties: false } }
  }, async (req: FastifyRequest<{ Querystring: { patient?: string } }>, reply) => {
    const patient = req.query.patient
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    res.write(': medchain event stream\n\n')
    opts.metrics?.eventSubscribers.inc()
    let dropped = false
    const unsubscribe = backend.subscribe(event => {
      if (dropped) return
      if (patient !== undefined && (event.type !== 'tx' || !(event.patients ?? []).includes(patient))) return
      if (patient === undefined && event.type !== 'block' && event.type !== 'tx') return
      // A client that stops reading must not make the node buffer the chain for it:
      // past the backlog bound it is disconnected (an EventSource reconnects and reloads).
      if (res.writableLength > maxBacklog) {
        dropped = true
        opts.metrics?.eventSubscribersDropped.inc()
        res.destroy()
        return
      }
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(toJson(event.data))}\n\n`)
    })
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
    req.raw.on('close', () => { clearInterval(ping); unsubscribe(); opts.metrics?.eventSubscribers.dec() })
  })

  return app
}

/** A signed transaction from the request body: raw CBOR, or JSON `{tx: base64}` / `{txHex: hex}`. */
function txBytesOf (req: FastifyRequest): Uint8Array {
  const body = req.body
  if (Buffer.isBuffer(body)) {
    if (body.length === 0) throw new NodeError('API_EMPTY_BODY', 'empty body')
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new NodeError('API_BAD_REQUEST', 'expected application/cbor bytes or JSON {"tx": "<base64>"}')
  const o = body as Record<string, unknown>
  const extra = Object.keys(o).filter(k => k !== 'tx' && k !== 'txHex')
  if (extra.length > 0) throw new NodeError('API_BAD_REQUEST', `unknown field ${extra[0]}`, 400, extra[0])
  if (typeof o.tx === 'string') return fromBase64(o.tx)
  if (typeof o.txHex === 'string') return fromHex(o.txHex)
  throw new NodeError('API_BAD_REQUEST', 'expected JSON {"tx": "<base64 of the signed CBOR transaction>"}')
}
