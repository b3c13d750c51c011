import { NodeError } from '../errors.js'

/**
 * Who a verified key is on the ledger. A key registered as more than one thing cannot
 * happen: the ledger refuses a key already in use (KEY_IN_USE).
 */
export type Principal =
  | { kind: 'patient', key: string, patient: string }
  | { kind: 'provider', key: string, role: string, org: string, active: boolean }
  | { kind: 'member', key: string, name: string }
  /** A key the ledger does not know, accepted only for its own account (a new patient's nonce). */
  | { kind: 'unregistered', key: string }

/** A provider's committed access.log, as the access table needs it. */
export interface LoggedAccess {
  id: string
  sender: string
  patient: string
  action: string
  purpose: string
  category?: string
  record?: string
  /** Block time of the log (ms). */
  time: number
  code: string
}

/** How long a provider's logged access covers API reads after its block (ms). */
export const ACCESS_LOG_WINDOW_MS = 10 * 60 * 1000

export function forbidden (code: string, message: string, value?: unknown): NodeError {
  return new NodeError(code, message, 403, value)
}

/** Rows P1..: docs/access-table.md. Each function throws a 403 NodeError or returns what the caller may see. */
export const accessTable = {
  /** M1: blocks, validators, transactions by id for members (operators of a hospital). */
  member (p: Principal, what: string): void {
    if (p.kind !== 'member') throw forbidden('ACCESS_MEMBERS_ONLY', `${what} is read by member operators only`, p.kind)
  },

  /** A1: an account's nonce, to its own key holder (registered or not) and to members. */
  account (p: Principal, key: string): void {
    if (p.key !== key && p.kind !== 'member') throw forbidden('ACCESS_NOT_YOURS', 'an account is read by its own key or a member', key)
  },

  /** T1: a transaction or its receipt, to members, its sender and the patient it names. */
  tx (p: Principal, parties: { sender: string, patient?: string }): void {
    if (p.kind === 'member' || p.key === parties.sender) return
    if (p.kind === 'patient' && p.patient === parties.patient) return
    throw forbidden('ACCESS_NOT_YOURS', 'a transaction is read by members, its sender and the patient it names', p.kind)
  },

  /**
   * P1..P4: a patient's data. The patient sees all of it (P1); a member sees the trail
   * entries written by its own providers (P3); a provider reads records only (P2, via
   * providerRecords); anyone else is refused.
   */
  patient (p: Principal, patient: string, route: string): 'all' | { actorsOfMember: string } | 'provider' {
    if (p.kind === 'patient' && p.patient === patient) return 'all'
    if (p.kind === 'member' && route === 'audit') return { actorsOfMember: p.name }
    if (p.kind === 'provider' && route === 'records') return 'provider'
    throw forbidden('ACCESS_NOT_YOURS', `a patient's ${route} is read by that patient${route === 'audit' ? ' (and members, for their own providers\' entries)' : route === 'records' ? ' (and a provider under a logged, permitted access)' : ''}`, patient)
  },

  /**
   * P2: a provider reads a patient's records under its own committed access.log for that
   * patient (the read is in the patient's trail before any data leaves the node), within
   * ACCESS_LOG_WINDOW_MS of the log, once per log, while the ledger's decision at this
   * moment still permits that category for that purpose.
   */
  providerRecords (p: Principal & { kind: 'provider' }, patient: string, claims: { access?: string, purpose?: string }, log: LoggedAccess | null, nowMs: number): LoggedAccess {
    if (!p.active) throw forbidden('ACCESS_PROVIDER_SUSPENDED', 'a suspended provider reads nothing', p.key)
    if (claims.access === undefined) throw forbidden('ACCESS_NOT_LOGGED', 'a provider\'s read needs the id of its committed access.log for this patient in the token\'s access claim', patient)
    if (log === null) throw forbidden('ACCESS_NOT_LOGGED', `access.log ${claims.access} is not committed`, claims.access)
    if (log.sender !== p.key) throw forbidden('ACCESS_NOT_LOGGED', 'the access.log was sent by another key', log.sender)
    if (log.patient !== patient) throw forbidden('ACCESS_NOT_LOGGED', 'the access.log names another patient', log.patient)
    if (log.code !== 'OK' || log.action !== 'read') throw forbidden('ACCESS_NOT_LOGGED', `the access.log is not a recorded read (code ${log.code}, action ${log.action})`, log.code)
    if (claims.purpose !== undefined && claims.purpose !== log.purpose) throw forbidden('ACCESS_PURPOSE_MISMATCH', `token states ${claims.purpose}, the log ${log.purpose}`, claims.purpose)
    if (log.time + ACCESS_LOG_WINDOW_MS < nowMs) throw forbidden('ACCESS_LOG_TOO_OLD', `the access.log is older than ${ACCESS_LOG_WINDOW_MS / 60_000} minutes; log the access again`, log.time)
    return log
  },

  /** D1: a decision about a patient, to that patient, to the grantee asking about itself, and to members. */
  decision (p: Principal, q: { patient: string, grantee: string }): void {
    if (p.kind === 'member' || p.key === q.grantee) return
    if (p.kind === 'patient' && p.patient === q.patient) return
    throw forbidden('ACCESS_NOT_YOURS', 'a decision is answered to the patient, the grantee about itself, and members', q.patient)
  },

  /** E1: the event stream: members see every block and transaction; a patient only their own transactions. */
  events (p: Principal, askedPatient: string | undefined): { patient: string } | 'all' {
    if (p.kind === 'member') return askedPatient === undefined ? 'all' : { patient: askedPatient }
    if (p.kind === 'patient') {
      if (askedPatient !== undefined && askedPatient !== p.patient) throw forbidden('ACCESS_NOT_YOURS', 'a patient follows only their own events', askedPatient)
      return { patient: p.patient }
    }
    throw forbidden('ACCESS_NOT_YOURS', 'the event stream is for patients (their own events) and members', p.kind)
  }
}
