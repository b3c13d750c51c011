import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { CodecError, bytesEqual, encode, fromBase64, fromHex, toHex } from '../codec/index.js'
import {
  LedgerError, auditTrail, decodeTx, getPatient, getPatientByKey, getProvider, keys, listConsents,
  type Grant, type PrefixReader, type StateView, type TxBody
} from '../ledger/index.js'
import { FHIR_JSON, auditEntryToEvent, consentToGrant, errorOutcome, grantToConsent, searchset, type OperationOutcome } from '../fhir/index.js'
import { NodeError } from './errors.js'

/** What the FHIR routes need from a running node. */
export interface FhirBackend {
  chainId: string
  state: () => StateView
  /** The append-only audit log on disk. */
  read: PrefixReader
  /** Wall clock (ms): a Consent's status (active/inactive) is read now. */
  clock: () => number
  /** The sender key of a committed transaction, or null. */
  committedTxSender: (id: string) => Promise<Uint8Array | null>
  submitTx: (bytes: Uint8Array) => { id: string }
  waitForCommit: (id: string, timeoutMs: number) => Promise<unknown>
}

/** The header carrying the patient's signed consent.grant for POST /fhir/Consent (base64 of the CBOR envelope). */
export const SIGNED_TX_HEADER = 'x-medchain-tx'
const MAX_AUDIT_EVENTS = 10_000

class FhirRefusal extends Error {
  constructor (readonly status: number, readonly outcome: OperationOutcome) { super(outcome.issue[0]?.diagnostics ?? 'refused') }
}

/**
 * FHIR R4 routes (docs/fhir.md): grants as Consent, the trail as AuditEvent, and Consent
 * import. Answers are application/fhir+json; every error is an OperationOutcome.
 */
export interface FhirGuards {
  /** Route config of the API's patient reads (authentication mode, rate limit). */
  config: Record<string, unknown>
  /** Throws (403) unless the caller may read the patient's consents. */
  consents: (req: FastifyRequest<any>, patient: string) => void
  /** Throws (403) unless the caller may read the patient's trail; else which entries (by actor) it sees. */
  audit: (req: FastifyRequest<any>, patient: string) => (actor: Uint8Array) => boolean
}

export function registerFhirRoutes (app: FastifyInstance, backend: FhirBackend, guards: FhirGuards): void {
  const config = guards.config
  const parse = (_req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void): void => {
    try { done(null, JSON.parse(body)) } catch (err) { done(new FhirRefusal(400, errorOutcome('structure', `body is not JSON: ${(err as Error).message}`))) }
  }
  app.addContentTypeParser(FHIR_JSON, { parseAs: 'string' }, parse)

  const send = (reply: FastifyReply, status: number, resource: unknown): FastifyReply => reply.code(status).type(`${FHIR_JSON}; charset=utf-8`).send(JSON.stringify(resource))
  const errorHandler = (err: unknown, _req: FastifyRequest<any>, reply: FastifyReply<any>): FastifyReply<any> => {
    if (err instanceof FhirRefusal) return send(reply, err.status, err.outcome)
    if (err instanceof NodeError) {
      if (err.status === 401) void reply.header('www-authenticate', `Bearer realm="medchain", error="invalid_token", error_description="${err.code}"`)
      const code = err.status === 404 ? 'not-found' : err.status === 401 ? 'login' : err.status === 403 ? 'forbidden' : err.status === 429 ? 'throttled' : 'processing'
      return send(reply, err.status, errorOutcome(code, `${err.code}: ${err.message}`))
    }
    if (err instanceof LedgerError || err instanceof CodecError) return send(reply, 400, errorOutcome('invalid', `${err.code}: ${err.message}`))
    const e = err as { statusCode?: number, message?: string, validation?: unknown }
    if (e.validation !== undefined || (typeof e.statusCode === 'number' && e.statusCode < 500)) return send(reply, e.statusCode ?? 400, errorOutcome('invalid', e.message ?? 'bad request'))
    throw err // the API's handler answers 500 INTERNAL
  }
  const base = (req: FastifyRequest): string => `${req.protocol}://${req.headers.host ?? 'localhost'}/fhir`

  app.get<{ Querystring: Record<string, string> }>('/fhir/Consent', { errorHandler, config }, async (req, reply) => {
    const patient = patientParam(req.query)
    guards.consents(req, toHex(patient))
    const now = backend.clock()
    const consents = listConsents(backend.state(), patient, now).map(v => grantToConsent(v.grant, now))
    return send(reply, 200, searchset(base(req), `${base(req)}/Consent?patient=${toHex(patient)}`, consents))
  })

  app.get<{ Params: { id: string } }>('/fhir/Consent/:id', { errorHandler, config }, async (req, reply) => {
    const id = req.params.id
    if (!/^[0-9a-f]{64}$/.test(id)) throw new FhirRefusal(404, errorOutcome('not-found', `Consent ${id}: ids are 64 lower-case hex digits (the grant's transaction id)`))
    const grant = await findGrant(backend, id)
    if (grant === undefined) throw new FhirRefusal(404, errorOutcome('not-found', `no Consent ${id}`))
    guards.consents(req, toHex(grant.patient))
    return send(reply, 200, grantToConsent(grant, backend.clock()))
  })

  app.get<{ Querystring: Record<string, string> }>('/fhir/AuditEvent', { errorHandler, config }, async (req, reply) => {
    const patient = patientParam(req.query)
    const visible = guards.audit(req, toHex(patient))
    const view = backend.state()
    const trail = await auditTrail(backend.read, patient, { limit: MAX_AUDIT_EVENTS })
    const kind = (key: Uint8Array): 'provider' | 'other' => getProvider(view, key) === undefined ? 'other' : 'provider'
    const events = trail.filter(e => visible(e.actor)).map(e => auditEntryToEvent(patient, e, kind))
    return send(reply, 200, searchset(base(req), `${base(req)}/AuditEvent?patient=${toHex(patient)}`, events))
  })

  app.post<{ Querystring: Record<string, string> }>('/fhir/Consent', { errorHandler, config: { auth: 'optional' } }, async (req, reply) => {
    const consent = req.body as Record<string, unknown> | undefined
    const ref = (consent?.patient as { reference?: unknown } | undefined)?.reference
    const m = typeof ref === 'string' ? /^Patient\/([0-9a-f]{64})$/.exec(ref) : null
    if (m === null) throw new FhirRefusal(422, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'business-rule', expression: ['Consent.patient'], diagnostics: `patient ${JSON.stringify(ref)} is not Patient/<medchain patient id>` }] })
    const patientId = fromHex(m[1], 32)
    const header = req.headers[SIGNED_TX_HEADER]
    const signed = typeof header === 'string' ? decodeTx(fromBase64(header), backend.chainId) : null
    const signedBody = signed?.tx.body as TxBody<'consent.grant'> | undefined
    const mapped = consentToGrant(consent, { patient: patientId, validUntil: signedBody?.validUntil })
    if (!mapped.ok) throw new FhirRefusal(422, mapped.outcome)
    if (signed === null) {
      throw new FhirRefusal(400, errorOutcome('required', `the Consent maps to a grant; the patient's signed consent.grant of exactly that body goes in header ${SIGNED_TX_HEADER} (medchain tx consent.import --fhir builds it)`, SIGNED_TX_HEADER))
    }
    const patient = getPatient(backend.state(), patientId)
    if (signed.tx.kind !== 'consent.grant') throw new FhirRefusal(422, errorOutcome('invalid', `signed transaction is ${signed.tx.kind}, not consent.grant`, SIGNED_TX_HEADER))
    if (patient === undefined || !bytesEqual(patient.key, signed.tx.sender)) {
      throw new FhirRefusal(403, errorOutcome('security', `the transaction is signed by ${toHex(signed.tx.sender)}, not by the current key of patient ${m[1]}`, SIGNED_TX_HEADER))
    }
    const differs = firstDifference(mapped.body, signedBody as TxBody<'consent.grant'>)
    if (differs !== null) throw new FhirRefusal(422, errorOutcome('invariant', `the signed grant's ${differs} differs from what this Consent says: the patient must sign exactly the Consent's mapping`, SIGNED_TX_HEADER))
    const { id } = backend.submitTx(signed.bytes)
    if (req.query.wait !== 'commit') {
      return send(reply.header('location', `${base(req)}/Consent/${id}`), 202, { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `consent.grant ${id} accepted; pending` }] })
    }
    const done = await backend.waitForCommit(id, 30_000) as { status?: string, code?: string, log?: string }
    if (done.status !== 'committed') throw new FhirRefusal(504, errorOutcome('timeout', `consent.grant ${id} not committed within 30 s`))
    if (done.code !== 'OK') throw new FhirRefusal(422, errorOutcome('business-rule', `the ledger refused consent.grant ${id}: ${done.code ?? ''}${done.log !== undefined ? ` (${done.log})` : ''}`))
    const grant = backend.state().get<Grant>(keys.consent(patientId, fromHex(id, 32)))
    if (grant === undefined) throw new FhirRefusal(500, errorOutcome('exception', `committed grant ${id} not in state`))
    return send(reply.header('location', `${base(req)}/Consent/${id}`), 201, grantToConsent(grant, backend.clock()))
  })
}

/** `patient=<id>` or `patient=Patient/<id>`: a 64-hex patient id; other search parameters are refused, not ignored. */
function patientParam (query: Record<string, string>): Uint8Array {
  const extra = Object.keys(query).filter(k => k !== 'patient')
  if (extra.length > 0) throw new FhirRefusal(400, errorOutcome('not-supported', `search parameter ${extra[0]} is not supported (only patient)`, extra[0]))
  const m = /^(?:Patient\/)?([0-9a-f]{64})$/.exec(query.patient ?? '')
  if (m === null) throw new FhirRefusal(400, errorOutcome('required', `patient ${JSON.stringify(query.patient ?? null)}: need patient=<64 hex patient id> (or Patient/<id>)`, 'patient'))
  return fromHex(m[1], 32)
}

/**
 * A grant by id: its transaction's sender is the patient's key when it was granted. That is the
 * patient's current key or their id (the first key) unless the key rotated twice since: then
 * the grant is found only through a patient search.
 */
async function findGrant (backend: FhirBackend, id: string): Promise<Grant | undefined> {
  const sender = await backend.committedTxSender(id)
  if (sender === null) return undefined
  const view = backend.state()
  const patientId = getPatientByKey(view, sender)?.id ?? (getPatient(view, sender) !== undefined ? sender : undefined)
  return patientId === undefined ? undefined : view.get<Grant>(keys.consent(patientId, fromHex(id, 32)))
}

function firstDifference (a: Record<string, unknown>, b: Record<string, unknown>): string | null {
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const x = a[k]; const y = b[k]
    if (x === undefined || y === undefined) { if (x !== y) return k; continue }
    if (!bytesEqual(encode(x), encode(y))) return k
  }
  return null
}
