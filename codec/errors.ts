/** A decoding or validation failure with a stable code, the path that failed and the offending value. */
export type CodecErrorCode =
  | 'CODEC_EMPTY'
  | 'CODEC_OVERSIZE'
  | 'CODEC_MALFORMED'
  | 'CODEC_TRAILING_BYTES'
  | 'CODEC_TOO_DEEP'
  | 'CODEC_NON_CANONICAL'
  | 'CODEC_WRONG_TYPE'
  | 'CODEC_MISSING_FIELD'
  | 'CODEC_UNKNOWN_FIELD'
  | 'CODEC_OUT_OF_RANGE'
  | 'CODEC_BAD_HEX'
  | 'CODEC_BAD_BASE64'

export class CodecError extends Error {
  readonly code: CodecErrorCode
  readonly path: string
  readonly value: unknown
  constructor (code: CodecErrorCode, message: string, path = '', value?: unknown) {
    super(path === '' ? message : `${path}: ${message}`)
    this.name = 'CodecError'
    this.code = code
    this.path = path
    this.value = value
  }
}
