import { ACTIONS, CATEGORIES, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, PURPOSES } from '../ledger/index.js'

/** OpenAPI 3 description of the node's HTTP API, served at /openapi.json. */
export function openApiDocument (): Record<string, unknown> {
  const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' }
  const error = { $ref: '#/components/schemas/Error' }
  const errors = {
    400: { description: 'bad input', content: { 'application/json': { schema: error } } },
    401: { description: 'no valid bearer token: AUTH_MISSING, AUTH_MALFORMED, AUTH_BAD_SIGNATURE, AUTH_EXPIRED, AUTH_NOT_YET_VALID, AUTH_LIFETIME_TOO_LONG, AUTH_REPLAYED, AUTH_WRONG_AUDIENCE, AUTH_WRONG_CHAIN, AUTH_UNKNOWN_KEY (docs/access-table.md)', content: { 'application/json': { schema: error } } },
    403: { description: 'the access table refuses this caller: ACCESS_NOT_YOURS, ACCESS_MEMBERS_ONLY, ACCESS_NOT_LOGGED, ACCESS_LOG_USED, ACCESS_LOG_TOO_OLD, ACCESS_DENIED, ACCESS_PURPOSE_MISMATCH, ACCESS_PROVIDER_SUSPENDED', content: { 'application/json': { schema: error } } },
    404: { description: 'not found', content: { 'application/json': { schema: error } } },
    429: { description: 'API_RATE_LIMITED: too many requests by this identity', content: { 'application/json': { schema: error } } }
  }
  const ok = (description: string): Record<string, unknown> => ({ 200: { description, content: { 'application/json': { schema: { type: 'object' } } } }, ...errors })
  const okArray = (description: string): Record<string, unknown> => ({ 200: { description, content: { 'application/json': { schema: { type: 'array' } } } }, ...errors })
  const patientParam = { name: 'id', in: 'path', required: true, schema: hex64, description: 'patient id (hex of the registration key)' }
  // Paged patient lists: newest first; `next` (or an item's `cursor`) continues the walk.
  const pageParams = (cursor: string): unknown[] => [
    { name: 'before', in: 'query', required: false, schema: { type: 'string', pattern: cursor }, description: 'only items older than this cursor (pass the previous page\'s `next` to walk back)' },
    { name: 'after', in: 'query', required: false, schema: { type: 'string', pattern: cursor }, description: 'only items newer than this cursor: the `limit` oldest of them, shown newest first; `next` continues forward' },
    { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT } }
  ]
  const AUDIT_CURSOR = '^[0-9]{1,15}-[0-9]{1,6}$'
  const ITEM_CURSOR = '^[0-9]{1,15}-[0-9a-f]{64}$'
  const pageErrors = { 400: { description: 'API_BAD_CURSOR (malformed, or both before and after), API_BAD_REQUEST (limit out of range, bad id)', content: { 'application/json': { schema: error } } } }
  const page = (description: string, field: string, item: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    200: {
      description,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['patient', field, 'next'],
            properties: {
              patient: hex64,
              ...extra,
              [field]: { type: 'array', description: 'newest first', items: { type: 'object', required: ['cursor'], properties: { ...item, cursor: { type: 'string', description: 'position of this item: use it as before or after' } } } },
              next: { type: 'string', nullable: true, description: 'cursor of the next page in the same direction (before, or after when after was given); null when there is none yet' }
            }
          }
        }
      }
    },
    ...errors,
    ...pageErrors
  })
  const wordError = (codes: string): Record<string, unknown> => ({ description: codes, content: { 'application/json': { schema: error } } })
  return {
    openapi: '3.0.3',
    info: { title: 'medchain node API', version: '0.1.0', description: 'Consent and record-access ledger of a hospital consortium. Every error is {error: {code, message}}. Reads of patient and chain data need `Authorization: Bearer <EdDSA JWT signed with the caller\'s registered key>` (docs/access-table.md); status, health, readiness, this document and the explorer shell are public. Prometheus metrics are on a separate listener (127.0.0.1), not this port.' },
    paths: {
      '/healthz': { get: { summary: 'process is up', responses: ok('ok') } },
      '/readyz': { get: { summary: 'synced, connected to a quorum, and consensus messages heard from a quorum within 10 s', responses: { ...ok('ready'), 503: { description: 'not ready', content: { 'application/json': { schema: { type: 'object' } } } } } } },
      '/v1/status': { get: { summary: 'chain and node status', responses: ok('status') } },
      '/v1/validators': { get: { summary: 'validators with liveness', responses: okArray('validators') } },
      '/v1/accounts/{key}': { get: { summary: 'next nonce of a sender key (committed, and counting pending transactions)', parameters: [{ name: 'key', in: 'path', required: true, schema: hex64 }], responses: ok('account') } },
      '/v1/txs': {
        post: {
          summary: 'submit a signed transaction',
          parameters: [
            { name: 'wait', in: 'query', required: false, schema: { type: 'string', enum: ['commit', 'none'] } },
            { name: 'timeoutMs', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 120000 } }
          ],
          requestBody: {
            required: true,
            content: {
              'application/cbor': { schema: { type: 'string', format: 'binary' } },
              'application/json': { schema: { type: 'object', properties: { tx: { type: 'string', format: 'byte' } }, required: ['tx'] } }
            }
          },
          responses: {
            200: { description: 'committed (wait=commit), or {status: pending, timedOut: true} when the wait ran out', content: { 'application/json': { schema: { $ref: '#/components/schemas/TxResult' } } } },
            202: { description: 'accepted into this node\'s mempool and sent to every connected validator (to each one that connects later, if none is): it will be committed unless a different transaction of the same sender and nonce commits first, it waits in the mempool longer than mempool.ttlMs (default 10 min, e.g. while the chain has no quorum), or this node dies before passing it on. Resubmitting the same bytes is safe (MEMPOOL_DUPLICATE / TX_STALE_NONCE once known).', content: { 'application/json': { schema: { type: 'object', required: ['id', 'status'], properties: { id: hex64, status: { type: 'string', enum: ['pending'] } } } } } },
            400: { description: 'refused: TX_MALFORMED, TX_NON_CANONICAL, TX_OVERSIZE, TX_WRONG_CHAIN, TX_BAD_SIGNATURE, TX_BAD_KEY, TX_UNKNOWN_KIND, MEMPOOL_*, API_BAD_REQUEST, API_BAD_JSON, API_EMPTY_BODY', content: { 'application/json': { schema: error } } },
            409: { description: 'MEMPOOL_DUPLICATE: already pending', content: { 'application/json': { schema: error } } },
            413: { description: 'API_BODY_TOO_LARGE', content: { 'application/json': { schema: error } } },
            415: { description: 'API_UNSUPPORTED_MEDIA_TYPE: send application/cbor or application/json', content: { 'application/json': { schema: error } } },
            503: { description: 'NODE_HALTED or API_TOO_MANY_WAITERS', content: { 'application/json': { schema: error } } }
          }
        }
      },
      '/v1/txs/{id}': {
        get: {
          summary: 'a transaction, pending or committed; once committed with its result code and, for a failure, the reason (`log`, e.g. WRITE_DENIED with ACTION_NOT_GRANTED)',
          parameters: [{ name: 'id', in: 'path', required: true, schema: hex64 }],
          responses: { 200: { description: 'transaction', content: { 'application/json': { schema: { $ref: '#/components/schemas/TxInfo' } } } }, ...errors }
        }
      },
      '/v1/txs/{id}/receipt': { get: { summary: 'self-contained receipt (as /v1/proofs/tx/{id}): tx, result leaf, header, Merkle proofs, commit certificate', parameters: [{ name: 'id', in: 'path', required: true, schema: hex64 }], responses: ok('receipt') } },
      '/v1/proofs/tx/{id}': { get: { summary: 'receipt of a committed transaction: tx, result leaf (code, decision, audit entries), header, tx and results Merkle proofs, commit certificate; check with medchain verify', parameters: [{ name: 'id', in: 'path', required: true, schema: hex64 }], responses: ok('receipt') } },
      '/v1/proofs/consent/{patient}/{grant}': { get: { summary: 'state proof at the head: the consent (or its absence), header, sparse Merkle proof, commit certificate', parameters: [{ name: 'patient', in: 'path', required: true, schema: hex64 }, { name: 'grant', in: 'path', required: true, schema: hex64 }], responses: ok('state proof') } },
      '/v1/proofs/record/{patient}/{record}': { get: { summary: 'state proof at the head: the record and its erasure (or its absence)', parameters: [{ name: 'patient', in: 'path', required: true, schema: hex64 }, { name: 'record', in: 'path', required: true, schema: hex64 }], responses: ok('state proof') } },
      '/v1/proofs/patient/{patient}': { get: { summary: "state proof at the head: the patient and their current key (or absence)", parameters: [{ name: 'patient', in: 'path', required: true, schema: hex64 }], responses: ok('state proof') } },
      '/v1/blocks': { get: { summary: 'latest block summaries', parameters: [{ name: 'before', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } }, { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100 } }], responses: okArray('blocks') } },
      '/v1/blocks/latest': { get: { summary: 'the latest block', responses: ok('block') } },
      '/v1/blocks/{height}': { get: { summary: 'a block by height', parameters: [{ name: 'height', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }], responses: ok('block') } },
      '/v1/patients/{id}/consents': {
        get: {
          summary: 'consents of a patient, active and past, newest grant first, paged (cursor <height>-<grant id>)',
          parameters: [patientParam, { name: 'at', in: 'query', required: false, schema: { type: 'integer', minimum: 0 }, description: 'time (ms) at which status is evaluated; default now' }, ...pageParams(ITEM_CURSOR)],
          responses: page('consents', 'consents', { grant: { type: 'object' }, status: { type: 'string' } }, { time: { type: 'integer' } })
        }
      },
      '/v1/patients/{id}/audit': {
        get: {
          summary: 'audit trail of a patient, newest entry first, paged (cursor <height>-<seq>)',
          parameters: [patientParam, ...pageParams(AUDIT_CURSOR)],
          responses: page('audit entries', 'entries', { type: { type: 'string' }, txId: hex64, actor: hex64, by: { type: 'string', description: 'who acted: "by <key>", or "by representative <key> (<basis>)" when a representative acted for the patient (actedAs)' }, actedAs: { type: 'object' }, at: { type: 'object' }, permit: { type: 'boolean' }, reason: { type: 'string' } })
        }
      },
      '/v1/patients/{id}/requests': {
        get: {
          summary: 'pending access requests, newest first, paged (cursor <height>-<request id>)',
          parameters: [patientParam, ...pageParams(ITEM_CURSOR)],
          responses: page('requests', 'requests', { id: hex64, provider: hex64 }, { time: { type: 'integer' } })
        }
      },
      '/v1/patients/{id}/records': {
        get: {
          summary: 'records with amendment history, newest anchored first, paged (cursor <height>-<record id>)',
          parameters: [patientParam, ...pageParams(ITEM_CURSOR)],
          responses: page('records', 'records', { id: hex64, category: { type: 'string' } }, { registered: { type: 'boolean' } })
        }
      },
      '/v1/patients/{id}/representatives': {
        get: {
          summary: 'who may act for the patient (parents, guardians, legal representatives), newest designation first, paged (cursor <height>-<representation id>); status active, not_yet_valid, expired, majority or revoked at `at`',
          parameters: [patientParam, { name: 'at', in: 'query', required: false, schema: { type: 'integer', minimum: 0 }, description: 'time (ms) at which status is evaluated; default now' }, ...pageParams(ITEM_CURSOR)],
          responses: page('representatives', 'representatives', { representation: { type: 'object' }, status: { type: 'string', enum: ['active', 'not_yet_valid', 'expired', 'majority', 'revoked'] } }, { time: { type: 'integer' } })
        }
      },
      '/v1/patients/{id}/break-glass': { get: { summary: 'break-glass events of a patient', parameters: [patientParam], responses: okArray('events') } },
      '/v1/decision': {
        get: {
          summary: 'access decision with its reason',
          parameters: [
            { name: 'patient', in: 'query', required: true, schema: hex64 },
            { name: 'grantee', in: 'query', required: true, schema: hex64 },
            { name: 'category', in: 'query', required: true, schema: { type: 'string', enum: [...CATEGORIES] } },
            { name: 'action', in: 'query', required: true, schema: { type: 'string', enum: [...ACTIONS] } },
            { name: 'purpose', in: 'query', required: true, schema: { type: 'string', enum: [...PURPOSES] }, description: 'HL7 PurposeOfUse code (case-sensitive)' },
            { name: 'time', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } }
          ],
          responses: {
            ...ok('decision'),
            400: wordError('a word outside the ledger\'s list: API_BAD_CATEGORY, API_BAD_ACTION, API_BAD_PURPOSE (error.field names it, error.allowed lists the words, error.value is what was sent); API_BAD_REQUEST for a missing parameter or a bad id')
          }
        }
      },
      '/v1/events': {
        get: {
          summary: 'server-sent events of committed blocks and transactions',
          description: 'Without `patient`: `event: block` (data BlockEvent) per committed block and `event: tx` (data TxEvent) per committed transaction. With `patient`: only the tx events that touch that patient (consents, accesses, break-glass, records), so a patient app is notified of every access. Scoped to the caller: a member sees everything; a patient only their own tx events (no blocks). Comment lines (`: ping`) keep the connection open.',
          parameters: [{ name: 'patient', in: 'query', required: false, schema: hex64 }, { name: 'access_token', in: 'query', required: false, schema: { type: 'string' }, description: 'the bearer token, for EventSource clients that cannot set headers (RFC 6750 §2.3)' }],
          responses: { 200: { description: 'event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors }
        }
      },
      '/openapi.json': { get: { summary: 'this document', responses: ok('OpenAPI document') } },
      '/': { get: { summary: 'explorer page', responses: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } } }
    },
    components: {
      schemas: {
        TxResult: { type: 'object', required: ['id', 'status'], properties: { id: hex64, status: { type: 'string', enum: ['committed', 'pending', 'unknown'] }, height: { type: 'integer' }, index: { type: 'integer' }, code: { type: 'string', description: 'OK or the ledger failure code' }, log: { type: 'string', description: 'reason of a failure, e.g. ACTION_NOT_GRANTED for WRITE_DENIED' }, events: { type: 'array' }, timedOut: { type: 'boolean' } } },
        TxInfo: { type: 'object', required: ['id', 'status'], properties: { id: hex64, status: { type: 'string', enum: ['committed', 'pending'] }, height: { type: 'integer' }, index: { type: 'integer' }, code: { type: 'string', description: 'committed: OK or the ledger failure code' }, log: { type: 'string', description: 'committed and failed: the reason, e.g. ACTION_NOT_GRANTED for WRITE_DENIED' }, tx: { type: 'object', description: 'the signed transaction (kind, sender, nonce, body)' } } },
        BlockEvent: { type: 'object', required: ['height', 'hash', 'time', 'txCount'], properties: { height: { type: 'integer' }, hash: hex64, time: { type: 'integer', description: 'block time, unix ms' }, txCount: { type: 'integer' }, proposer: hex64, stateRoot: hex64 } },
        TxEvent: { type: 'object', required: ['id', 'height', 'index', 'kind', 'code'], properties: { id: hex64, height: { type: 'integer' }, index: { type: 'integer' }, kind: { type: 'string' }, code: { type: 'string' }, events: { type: 'array' } } },
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, value: { description: 'the value refused' }, field: { type: 'string', description: 'API_BAD_<FIELD>: the parameter' }, allowed: { type: 'array', items: { type: 'string' }, description: 'API_BAD_<FIELD>: the words the ledger accepts' } } } } }
      }
    }
  }
}
