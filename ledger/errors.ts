/** Stable codes for transactions rejected before execution (decoding, schema, signature). */
export type LedgerErrorCode =
  | 'TX_OVERSIZE'
  | 'TX_MALFORMED'
  | 'TX_NON_CANONICAL'
  | 'TX_BAD_VERSION'
  | 'TX_WRONG_CHAIN'
  | 'TX_UNKNOWN_KIND'
  | 'TX_BAD_SIGNATURE'
  | 'TX_BAD_KEY'
  | 'GENESIS_INVALID'
  | 'STATE_MISMATCH'
  | 'STATE_CORRUPT'
  | 'STATE_SOURCE_SET'
  | 'PAGE_BAD_CURSOR'
  | 'PAGE_BAD_LIMIT'

export class LedgerError extends Error {
  readonly code: LedgerErrorCode
  readonly value: unknown
  constructor (code: LedgerErrorCode, message: string, value?: unknown) {
    super(message)
    this.name = 'LedgerError'
    this.code = code
    this.value = value
  }
}

/**
 * Stable result codes of executed transactions. A failed transaction is kept in its
 * block with one of these codes, changes nothing but its sender's nonce (and, for a
 * refused access attempt, the patient's trail: docs/decision-table.md W07).
 */
export type ResultCode =
  | 'OK'
  | 'BAD_NONCE'
  | 'DUPLICATE_TX'
  | 'WRONG_CHAIN'
  | 'NOT_MEMBER'
  | 'NOT_AUTHORIZED'
  | 'NOT_PROVIDER'
  | 'NOT_PATIENT'
  | 'NOT_GUARDIAN'
  | 'KEY_IN_USE'
  | 'PROVIDER_EXISTS'
  | 'PROVIDER_UNKNOWN'
  | 'PROVIDER_SUSPENDED'
  | 'ALREADY_SUSPENDED'
  | 'NOT_SUSPENDED'
  | 'PATIENT_EXISTS'
  | 'PATIENT_UNKNOWN'
  | 'BAD_GUARDIANS'
  | 'GRANTEE_UNKNOWN'
  | 'BAD_WINDOW'
  | 'TOO_MANY_GRANTS'
  | 'GRANT_UNKNOWN'
  | 'GRANT_ALREADY_REVOKED'
  | 'REQUEST_UNKNOWN'
  | 'TOO_MANY_REQUESTS'
  | 'RECORD_EXISTS'
  | 'RECORD_UNKNOWN'
  | 'RECORD_ERASED'
  | 'TOO_MANY_AMENDMENTS'
  | 'WRITE_DENIED'
  | 'NOT_EMERGENCY_ROLE'
  | 'BREAK_GLASS_PURPOSE'
  | 'NOT_REPRESENTATIVE'
  | 'REPRESENTATION_INACTIVE'
  | 'REPRESENTATION_UNKNOWN'
  | 'REPRESENTATION_ALREADY_REVOKED'
  | 'SCOPE_EXCEEDED'
  | 'BAD_REPRESENTATIVE'
  | 'TOO_MANY_REPRESENTATIONS'

/** Thrown inside a handler to fail the current transaction with a result code. */
export class TxFailure extends Error {
  readonly code: Exclude<ResultCode, 'OK'>
  constructor (code: Exclude<ResultCode, 'OK'>, message: string = code) {
    super(message)
    this.name = 'TxFailure'
    this.code = code
  }
}
