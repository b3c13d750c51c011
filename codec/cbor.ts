import { encode as cborEncode, decode as cborDecode, Tokenizer, Type, rfc8949EncodeOptions } from 'cborg'
import { CodecError } from './errors.js'
import { bytesEqual } from './bytes.js'

export interface DecodeLimits {
  /** Largest accepted input in bytes. */
  maxBytes: number
  /** Deepest accepted nesting of arrays and maps (the top level is depth 1). */
  maxDepth: number
}

export const DEFAULT_LIMITS: DecodeLimits = { maxBytes: 64 * 1024, maxDepth: 16 }

// RFC 8949 §4.2.1 core deterministic encoding: shortest integer and length forms,
// definite lengths, map keys sorted bytewise. Floats are not used anywhere signed.
const ENCODE_OPTIONS = { ...rfc8949EncodeOptions }

const DECODE_OPTIONS = {
  strict: true, // minimal integer / length encodings only
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
  useMaps: false,
  tags: [] as never[]
}

/** Canonical CBOR bytes of a value: the one encoding that is signed and hashed. */
export function encode (value: unknown): Uint8Array {
  return cborEncode(value, ENCODE_OPTIONS)
}

/**
 * Walks the token stream once before decoding: bounds nesting depth and rejects
 * length claims that the remaining input cannot hold, so a 10-byte message can not
 * make the decoder allocate gigabytes or recurse past the stack.
 */
function scan (bytes: Uint8Array, maxDepth: number): void {
  const tokenizer = new Tokenizer(bytes, DECODE_OPTIONS)
  const remaining: number[] = [1] // items still expected at each open level
  while (remaining.length > 0) {
    if (tokenizer.done()) throw new CodecError('CODEC_MALFORMED', 'unexpected end of input')
    const token = tokenizer.next()
    remaining[remaining.length - 1]--
    let children = 0
    if (token.type === Type.array) children = token.value as number
    else if (token.type === Type.map) children = (token.value as number) * 2
    else if (token.type === Type.tag) children = 1
    else if (token.type === Type.break) throw new CodecError('CODEC_NON_CANONICAL', 'indefinite length')
    if (children > bytes.length - tokenizer.pos()) {
      throw new CodecError('CODEC_MALFORMED', `length ${children} exceeds remaining input`)
    }
    if (children > 0) {
      remaining.push(children)
      // remaining[0] is the pseudo-level holding the top item
      if (remaining.length - 1 > maxDepth) throw new CodecError('CODEC_TOO_DEEP', `nesting deeper than ${maxDepth}`)
    } else {
      while (remaining.length > 0 && remaining[remaining.length - 1] === 0) remaining.pop()
    }
  }
  if (!tokenizer.done()) throw new CodecError('CODEC_TRAILING_BYTES', `${bytes.length - tokenizer.pos()} bytes after the item`)
}

function mapCborgError (err: unknown): CodecError {
  if (err instanceof CodecError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (/indefinite/i.test(message)) return new CodecError('CODEC_NON_CANONICAL', message)
  if (/minimal|strict|sorted|order/i.test(message)) return new CodecError('CODEC_NON_CANONICAL', message)
  if (/duplicate|repeat/i.test(message)) return new CodecError('CODEC_NON_CANONICAL', message)
  return new CodecError('CODEC_MALFORMED', message)
}

/**
 * Decodes one canonical CBOR item. Rejects: empty or oversize input, malformed or
 * truncated items, trailing bytes, nesting past the limit, tags, floats that are
 * not allowed, undefined, and any encoding that is not the canonical one (unsorted
 * or duplicate map keys, non-minimal integers and lengths, indefinite lengths).
 */
export function decode (bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): unknown {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('CODEC_WRONG_TYPE', 'input is not bytes')
  if (bytes.length === 0) throw new CodecError('CODEC_EMPTY', 'empty input')
  if (bytes.length > limits.maxBytes) throw new CodecError('CODEC_OVERSIZE', `${bytes.length} bytes exceeds limit ${limits.maxBytes}`, '', bytes.length)
  let value: unknown
  try {
    scan(bytes, limits.maxDepth)
    value = cborDecode(bytes, DECODE_OPTIONS)
  } catch (err) {
    throw mapCborgError(err)
  }
  // Strict mode checks integer minimality; key order and float width are checked by
  // re-encoding: canonical input is exactly the bytes its value encodes to.
  let again: Uint8Array
  try { again = encode(value) } catch (err) { throw new CodecError('CODEC_MALFORMED', (err as Error).message) }
  if (!bytesEqual(again, bytes)) throw new CodecError('CODEC_NON_CANONICAL', 'not the canonical encoding of its value')
  return value
}
