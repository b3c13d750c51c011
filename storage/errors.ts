/** Every failure of storage/ has one of these stable codes; `value` carries the offending input. */
export type StorageErrorCode =
  | 'STORE_OPEN_FAILED' // LevelDB could not be opened (not a directory, no permission, ...)
  | 'STORE_LOCKED' // another process (or another handle in this process) holds the LevelDB lock
  | 'STORE_CORRUPT' // on-disk data is inconsistent: the node must not serve it
  | 'STORE_WRONG_CHAIN' // the store was created for another chain id or genesis hash
  | 'STORE_CLOSED' // used after close()
  | 'STORE_BAD_INPUT' // a caller passed a value that breaks the repository's contract
  | 'STORE_OUT_OF_ORDER' // commitBlock height or prevHash does not extend the head
  | 'WAL_CORRUPT' // a complete WAL record fails its CRC or has an impossible length
  | 'WAL_RECORD_TOO_LARGE'
  | 'SIGNER_STATE_MISSING' // the chain has blocks but no signer state: refuse to sign
  | 'SIGNER_STATE_CORRUPT'
  | 'SIGNER_REGRESSION' // save() of a height/round/step below the last saved one
  | 'SIGNER_CONFLICT' // save() of the same height/round/step with other sign bytes
  | 'SIGNER_RESET_REFUSED' // reset of the signer state of a home that already has blocks

export class StorageError extends Error {
  readonly code: StorageErrorCode
  readonly value: unknown
  constructor (code: StorageErrorCode, message: string, value?: unknown, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options)
    this.name = 'StorageError'
    this.code = code
    this.value = value
  }
}

export function isStorageError (err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code)
}
