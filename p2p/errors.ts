// Typed errors of the p2p layer: a stable `code` plus the offending value.
export type P2PErrorCode =
  | 'P2P_BAD_OPTIONS'
  | 'P2P_NOT_MEMBER'
  | 'P2P_NOT_CONNECTED'
  | 'P2P_STOPPED'
  | 'P2P_TOO_LARGE'
  | 'P2P_TIMEOUT'
  | 'P2P_SYNC_BAD_REQUEST'
  | 'P2P_SYNC_BAD_RESPONSE'
  | 'P2P_SYNC_TOO_LARGE'
  | 'P2P_SYNC_TIMEOUT'
  | 'P2P_SYNC_REMOTE_ERROR'
  | 'P2P_SYNC_FAILED'
  | 'P2P_STATUS_FAILED'

export class P2PError extends Error {
  readonly code: P2PErrorCode
  readonly value: unknown

  constructor (code: P2PErrorCode, message: string, value?: unknown) {
    super(`${code}: ${message}`)
    this.name = 'P2PError'
    this.code = code
    this.value = value
  }
}
