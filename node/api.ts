import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { CodecError, fromBase64, fromHex, toHex } from '../codec/index.js'
import { NodeError } from './errors.js'
import { toJson } from './json.js'
import type { Metrics } from './metrics.js'
import { AuthError, ReplayCache, bearerOf, verifyToken, type TokenClaims } from './auth/token.js'
import { ACCESS_LOG_WINDOW_MS, accessTable, forbidden, type LoggedAccess, type Principal } from './auth/access.js'

/** How a route authenticates: public; a registered key; a token optional (writes: it names who is rate-limited); any key, registered or not (its own account). */
export type AuthMode = 'public' | 'token' | 'optional' | 'self'

declare module 'fastify' {
  interface FastifyRequest { principal?: Principal, claims?: TokenClaims }
  interface FastifyContextConfig { auth?: AuthMode }
}

export interface ApiAuthOptions {
  chainId: string
  /** This node's public key (hex): the audience of tokens it accepts, with the chain id. */
  nodeKey: string
  /** Wall clock (ms) for token expiry; tests inject it. */
  clock: () => number
  replayCacheMax?: number
  /** Requests per minute and identity (token key, else client address); 0 = no limit. */
  readsPerMinute?: number
  writesPerMinute?: number
}
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
  /** A receipt (tx) or a state proof at the head (consent, record, patient), as JSON; null: unknown tx. */
  proof (q: ProofQuery): Promise<unknown | null>
  getBlock (height: number | 'latest'): Promise<unknown | null>
  listBlocks (before: number | null, limit: number): Promise<unknown[]>
  validators (): unknown[]
  account (key: string): unknown
  patientConsents (patientId: string, at: number | null, page: PageRequest): unknown
  patientAudit (patientId: string, page: PageRequest): Promise<unknown>
  patientRequests (patientId: string, page: PageRequest): unknown
  patientRecords (patientId: string, page: PageRequest): unknown
  patientRepresentatives (patientId: string, at: number | null, page: PageRequest): unknown
  patientBreakGlass (patientId: string): Promise<unknown[]>
  decision (q: DecisionParams): unknown
  /** The ledger's decision now for a provider's read of a category or a record (docs/access-table.md, P2). */
  accessDecision (q: { patient: string, grantee: string, category?: string, record?: string, purpose: string }): { permit: boolean, reason: string }
  /** Who a key is on the ledger, or null when unregistered. */
  identify (keyHex: string): Principal | null
  /** Sender and named patient of a pending or committed transaction. */
  txParties (id: string): Promise<{ sender: string, patient?: string } | null>
  /** A committed access.log transaction, or null (not committed, or another kind). */
  accessLog (id: string): Promise<LoggedAccess | null>
  subscribe (listener: (event: ChainEvent) => void): () => void
  explorerHtml (): string
  openApi (): unknown
  /** FHIR R4 routes under /fhir (node/fhir-api.ts). */
  fhir?: FhirBackend
}

export type ProofQuery =
  | { kind: 'tx', id: string }
  | { kind: 'consent', patient: string, grant: string }
  | { kind: 'record', patient: string, record: string }
  | { kind: 'patient', patient: string }

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

export async function createApi (backend: ApiBackend, opts: { maxBodyBytes: number, auth: ApiAuthOptions, maxEventBacklogBytes?: number, metrics?: Metrics, log?: (msg: string) => void, https?: { key: Buffer, cert: Buffer, ca?: Buffer } }): Promise<FastifyInstance> {
  const maxBacklog = opts.maxEventBacklogBytes ?? DEFAULT_MAX_EVENT_BACKLOG_BYTES
  const https = opts.https === undefined
    ? null
    : { key: opts.https.key, cert: opts.https.cert, ...(opts.https.ca !== undefined ? { ca: opts.https.ca, requestCert: true, rejectUnauthorized: true } : {}) }
  const app = (https === null
    ? Fastify({ logger: false, bodyLimit: opts.maxBodyBytes, keepAliveTimeout: 60_000, ajv: { customOptions: { allErrors: false, coerceTypes: true } } })
    : Fastify({ logger: false, https, bodyLimit: opts.maxBodyBytes, keepAliveTimeout: 60_000, ajv: { customOptions: { allErrors: false, coerceTypes: true } } })) as unknown as FastifyInstance
  const auth = opts.auth
  const replay = new ReplayCache(auth.replayCacheMax)
  // A provider's access.log covers one read at this node (docs/access-table.md, P2).
  const spentAccess = new ReplayCache(auth.replayCacheMax)

  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('application/cbor', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof NodeError) {
      if (err.status === 401 || err.status === 403) opts.metrics?.authRefused.inc({ code: err.code })
      if (err.status === 401) void reply.header('www-authenticate', `Bearer realm="medchain", error="invalid_token", error_description="${err.code}"`)
      return sendError(reply, err.status, err.code, err.message, err.value, err.details)
    }
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

  // Who is calling: every route says how it authenticates (config.auth); the token is
  // checked before the body is read or the route runs.
  app.addHook('onRequest', async (req) => {
    const mode = req.routeOptions.config?.auth ?? 'public'
    if (mode === 'public') return
    const queryToken = req.routeOptions.url === '/v1/events' ? (req.query as { access_token?: string }).access_token : undefined
    if (mode === 'optional' && req.headers.authorization === undefined) return
    const started = process.hrtime.bigint()
    try {
      const claims = verifyToken(bearerOf(req.headers.authorization, queryToken), { chainId: auth.chainId, nodeKey: auth.nodeKey, nowMs: auth.clock(), replay })
      const principal = backend.identify(claims.key)
      if (principal === null && mode === 'token') throw new AuthError('AUTH_UNKNOWN_KEY', 'the token\'s key is not a registered patient, provider or member', claims.key)
      req.claims = claims
      req.principal = principal ?? { kind: 'unregistered', key: claims.key }
    } finally {
      opts.metrics?.authSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9)
    }
  })
  const principalOf = (req: FastifyRequest): Principal => {
    if (req.principal === undefined) throw new AuthError('AUTH_MISSING', 'this route needs a bearer token')
    return req.principal
  }

  // Per-identity limits: the token's key when there is one, else the client address.
  const limitOf = (perMinute: number | undefined, fallback: number): { max: number, timeWindow: number } | false =>
    (perMinute ?? fallback) === 0 ? false : { max: perMinute ?? fallback, timeWindow: 60_000 }
  const readLimit = limitOf(auth.readsPerMinute, 6000)
  const writeLimit = limitOf(auth.writesPerMinute, 600_000)
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    keyGenerator: req => req.principal?.key ?? req.ip,
    errorResponseBuilder: (req, ctx) => {
      opts.metrics?.rateLimited.inc({ kind: req.method === 'POST' ? 'write' : 'read' })
      return new NodeError('API_RATE_LIMITED', `more than ${ctx.max} requests in ${ctx.after} by ${req.principal?.key ?? req.ip}; retry after ${ctx.after}`, 429, ctx.max)
    }
  })
  const reads = (mode: AuthMode): { config: { auth: AuthMode, rateLimit?: { max: number, timeWindow: number } } } =>
    ({ config: { auth: mode, ...(readLimit !== false ? { rateLimit: readLimit } : {}) } })

  const json = (reply: FastifyReply, value: unknown): FastifyReply => reply.type('application/json').send(JSON.stringify(toJson(value)))
  const notFound = (reply: FastifyReply, what: string, id: string): FastifyReply => sendError(reply, 404, 'API_NOT_FOUND', `${what} ${id} not found`, id)

  app.get('/healthz', async (_req, reply) => json(reply, { ok: true }))
  app.get('/readyz', async (_req, reply) => {
    const r = backend.ready()
    return json(reply.code(r.ready ? 200 : 503), r)
  })
  app.get('/v1/status', async (_req, reply) => json(reply, backend.status()))
  app.get('/v1/validators', reads('token'), async (req, reply) => {
    accessTable.member(principalOf(req), 'the validator set')
    return json(reply, backend.validators())
  })
  app.get('/v1/accounts/:key', { ...reads('self'), schema: { params: { type: 'object', properties: { key: { type: 'string', pattern: HEX64 } } } } },
    async (req: FastifyRequest<{ Params: { key: string } }>, reply) => {
      accessTable.account(principalOf(req), req.params.key)
      return json(reply, backend.account(req.params.key))
    })
  app.get('/openapi.json', async (_req, reply) => json(reply, backend.openApi()))
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(backend.explorerHtml()))

  app.post('/v1/txs', {
    config: { auth: 'optional', ...(writeLimit !== false ? { rateLimit: writeLimit } : {}) },
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
  // A transaction's existence is itself information: who may read it is decided before "not found".
  const txAllowed = async (p: Principal, id: string): Promise<boolean> => {
    if (p.kind === 'member') return true
    const parties = await backend.txParties(id)
    if (parties === null) throw forbidden('ACCESS_NOT_YOURS', 'a transaction is read by members, its sender and the patient it names', id)
    accessTable.tx(p, parties)
    return true
  }
  app.get('/v1/txs/:id', { ...reads('token'), schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: HEX64 } } } } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      await txAllowed(principalOf(req), req.params.id)
      const tx = await backend.getTx(req.params.id)
      return tx === null ? notFound(reply, 'transaction', req.params.id) : json(reply, tx)
    })
  app.get('/v1/txs/:id/receipt', { ...reads('token'), schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: HEX64 } } } } },
    async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      await txAllowed(principalOf(req), req.params.id)
      const r = await backend.getReceipt(req.params.id)
      return r === null ? notFound(reply, 'committed transaction', req.params.id) : json(reply, r)
    })

  const hexParams = (...names: string[]): { schema: { params: unknown } } =>
    ({ schema: { params: { type: 'object', properties: Object.fromEntries(names.map(n => [n, { type: 'string', pattern: HEX64 }])) } } })
  // Receipts: whoever may read the transaction; state proofs: the patient themself (P1).
  const ownProof = (req: FastifyRequest<{ Params: { patient: string } }>): void => {
    if (accessTable.patient(principalOf(req), req.params.patient, 'proofs') !== 'all') throw forbidden('ACCESS_NOT_YOURS', "a patient's state proofs are read by that patient", req.params.patient)
  }
  app.get('/v1/proofs/tx/:id', { ...reads('token'), ...hexParams('id') }, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    await txAllowed(principalOf(req), req.params.id)
    const r = await backend.proof({ kind: 'tx', id: req.params.id })
    return r === null ? notFound(reply, 'committed transaction', req.params.id) : json(reply, r)
  })
  app.get('/v1/proofs/consent/:patient/:grant', { ...reads('token'), ...hexParams('patient', 'grant') },
    async (req: FastifyRequest<{ Params: { patient: string, grant: string } }>, reply) => { ownProof(req); return json(reply, await backend.proof({ kind: 'consent', ...req.params })) })
  app.get('/v1/proofs/record/:patient/:record', { ...reads('token'), ...hexParams('patient', 'record') },
    async (req: FastifyRequest<{ Params: { patient: string, record: string } }>, reply) => { ownProof(req); return json(reply, await backend.proof({ kind: 'record', ...req.params })) })
  app.get('/v1/proofs/patient/:patient', { ...reads('token'), ...hexParams('patient') },
    async (req: FastifyRequest<{ Params: { patient: string } }>, reply) => { ownProof(req); return json(reply, await backend.proof({ kind: 'patient', ...req.params })) })

  app.addHook('preHandler', async (req) => {
    // Blocks are chain-level data: members only (M1).
    if (req.routeOptions.url?.startsWith('/v1/blocks') === true) accessTable.member(principalOf(req), 'a block')
  })
  app.get('/v1/blocks', { ...reads('token'), schema: { querystring: { type: 'object', properties: { before: { type: 'integer', minimum: 1 }, limit: { type: 'integer', minimum: 1, maximum: 100 } }, additionalProperties: false } } },
    async (req: FastifyRequest<{ Querystring: { before?: number, limit?: number } }>, reply) => json(reply, await backend.listBlocks(req.query.before ?? null, req.query.limit ?? 20)))
  app.get('/v1/blocks/latest', reads('token'), async (_req, reply) => {
    const b = await backend.getBlock('latest')
    return b === null ? notFound(reply, 'block', 'latest') : json(reply, b)
  })
  app.get('/v1/blocks/:height', { ...reads('token'), schema: { params: { type: 'object', properties: { height: { type: 'integer', minimum: 1 } } } } },
    async (req: FastifyRequest<{ Params: { height: number } }>, reply) => {
      const b = await backend.getBlock(req.params.height)
      return b === null ? notFound(reply, 'block', String(req.params.height)) : json(reply, b)
    })

  const patientParams = { ...reads('token'), schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: HEX64 } } } } }
  // Newest first, a page at a time: `next` (or an item's `cursor`) continues with before/after.
  type PageQuery = { before?: string, after?: string, limit?: number }
  const paged = (extra: Record<string, unknown> = {}): { config: ReturnType<typeof reads>['config'], schema: Record<string, unknown> } => ({
    config: patientParams.config,
    schema: { ...patientParams.schema, querystring: { type: 'object', properties: { ...PAGE_QUERY_PROPERTIES, ...extra }, additionalProperties: false } }
  })
  /** Only the patient themself sees everything (P1). */
  const onlyPatient = (req: FastifyRequest<{ Params: { id: string } }>, route: string): void => {
    if (accessTable.patient(principalOf(req), req.params.id, route) !== 'all') throw forbidden('ACCESS_NOT_YOURS', `a patient's ${route} is read by that patient`, req.params.id)
  }
  app.get('/v1/patients/:id/consents', paged({ at: { type: 'integer', minimum: 0 } }),
    async (req: FastifyRequest<{ Params: { id: string }, Querystring: PageQuery & { at?: number } }>, reply) => {
      onlyPatient(req, 'consents')
      return json(reply, backend.patientConsents(req.params.id, req.query.at ?? null, pageParams('items', req.query)))
    })
  app.get('/v1/patients/:id/audit', paged(),
    async (req: FastifyRequest<{ Params: { id: string }, Querystring: PageQuery }>, reply) => {
      const scope = accessTable.patient(principalOf(req), req.params.id, 'audit')
      const page = await backend.patientAudit(req.params.id, pageParams('audit', req.query)) as { entries: Array<{ actor: Uint8Array }> }
      if (scope === 'all') return json(reply, page)
      if (scope === 'provider') throw forbidden('ACCESS_NOT_YOURS', 'a patient\'s trail is read by that patient', req.params.id)
      // P3: a member sees, of each page, the entries its own providers (or it) wrote.
      const mine = (actor: Uint8Array): boolean => {
        const who = backend.identify(toHex(actor))
        return (who?.kind === 'provider' && who.org === scope.actorsOfMember) || (who?.kind === 'member' && who.name === scope.actorsOfMember)
      }
      return json(reply, { ...page, entries: page.entries.filter(e => mine(e.actor)) })
    })
  app.get('/v1/patients/:id/requests', paged(),
    async (req: FastifyRequest<{ Params: { id: string }, Querystring: PageQuery }>, reply) => {
      onlyPatient(req, 'requests')
      return json(reply, backend.patientRequests(req.params.id, pageParams('items', req.query)))
    })
  app.get('/v1/patients/:id/records', paged({ purpose: { type: 'string', maxLength: 16 } }),
    async (req: FastifyRequest<{ Params: { id: string }, Querystring: PageQuery & { purpose?: string } }>, reply) => {
      const p = principalOf(req)
      const scope = accessTable.patient(p, req.params.id, 'records')
      const page = backend.patientRecords(req.params.id, pageParams('items', req.query)) as { records: Array<{ id: Uint8Array, category: string }> }
      if (scope === 'all' || p.kind !== 'provider') return json(reply, page)
      const claims = { ...req.claims, ...(req.query.purpose !== undefined ? { purpose: req.query.purpose } : {}) }
      const now = auth.clock()
      const log = accessTable.providerRecords(p, req.params.id, claims, claims.access === undefined ? null : await backend.accessLog(claims.access), now)
      // The ledger's own decision, now: a grant revoked after the log was written ends the read.
      const d = backend.accessDecision({ patient: req.params.id, grantee: p.key, purpose: log.purpose, ...(log.record !== undefined ? { record: log.record } : { category: log.category }) })
      if (!d.permit) throw forbidden('ACCESS_DENIED', `the ledger refuses this read now: ${d.reason}`, d.reason)
      if (!spentAccess.spend(`access:${log.id}`, Math.ceil((log.time + ACCESS_LOG_WINDOW_MS) / 1000), Math.floor(now / 1000))) {
        throw forbidden('ACCESS_LOG_USED', 'this access.log already covered a read at this node; log the access again', log.id)
      }
      const records = page.records.filter(r => log.record !== undefined ? toHex(r.id) === log.record : r.category === log.category)
      return json(reply, { ...page, records, access: { log: log.id, purpose: log.purpose } })
    })
  app.get('/v1/patients/:id/break-glass', patientParams, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    onlyPatient(req, 'break-glass')
    return json(reply, await backend.patientBreakGlass(req.params.id))
  })
  app.get('/v1/patients/:id/representatives', paged({ at: { type: 'integer', minimum: 0 } }),
    async (req: FastifyRequest<{ Params: { id: string }, Querystring: PageQuery & { at?: number } }>, reply) => {
      onlyPatient(req, 'representatives')
      return json(reply, backend.patientRepresentatives(req.params.id, req.query.at ?? null, pageParams('items', req.query)))
    })

  app.get('/v1/decision', {
    ...reads('token'),
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
  }, async (req: FastifyRequest<{ Querystring: { patient: string, grantee: string, category: string, action: string, purpose: string, time?: number } }>, reply) => {
    accessTable.decision(principalOf(req), req.query)
    return json(reply, backend.decision(decisionParams(req.query)))
  })

  // The FHIR routes read what /v1/patients/{id}/consents and /audit read, under the same rules.
  if (backend.fhir !== undefined) {
    registerFhirRoutes(app, backend.fhir, {
      config: reads('token').config,
      consents: (req, patient) => {
        if (accessTable.patient(principalOf(req), patient, 'consents') !== 'all') throw forbidden('ACCESS_NOT_YOURS', 'a patient\'s consents are read by that patient', patient)
      },
      audit: (req, patient) => {
        const scope = accessTable.patient(principalOf(req), patient, 'audit')
        if (scope === 'all') return () => true
        if (scope === 'provider') throw forbidden('ACCESS_NOT_YOURS', 'a patient\'s trail is read by that patient', patient)
        return actor => {
          const who = backend.identify(toHex(actor))
          return (who?.kind === 'provider' && who.org === scope.actorsOfMember) || (who?.kind === 'member' && who.name === scope.actorsOfMember)
        }
      }
    })
  }

  app.get('/v1/events', {
    ...reads('token'),
    schema: { querystring: { type: 'object', properties: { patient: { type: 'string', pattern: HEX64 }, access_token: { type: 'string', maxLength: 4096 } }, additionalProperties: false } }
  }, async (req: FastifyRequest<{ Querystring: { patient?: string } }>, reply) => {
    const scope = accessTable.events(principalOf(req), req.query.patient)
    const patient = scope === 'all' ? undefined : scope.patient
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
