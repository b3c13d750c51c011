import { encode as cborEncode, decode as cborDecode, Tokenizer, Type, rfc8949EncodeOptions } from 'cborg'
import { CodecError } from './errors.js'

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

interface Level { remaining: number, map: boolean, index: number, prevKeyStart: number, prevKeyEnd: number }

/**
 * The tokenizer cborg decodes from, checking as it goes, in the same single pass:
 * nesting depth; length claims that the remaining input cannot hold (so a 10-byte
 * message can not make the decoder allocate gigabytes or recurse past the stack);
 * and the parts of canonical form that strict mode leaves open: map keys must be
 * single-token items in strictly increasing bytewise order of their encodings (RFC 8949
 * §4.2.1, which also rules out duplicates), and floats and tags are never used.
 * Strict mode itself refuses non-minimal integers and lengths and indefinite lengths.
 */
class CheckingTokenizer {
  private readonly inner: InstanceType<typeof Tokenizer>
  private readonly levels: Level[] = [{ remaining: 1, map: false, index: 0, prevKeyStart: -1, prevKeyEnd: -1 }]

  constructor (private readonly data: Uint8Array, private readonly maxDepth: number) {
    this.inner = new Tokenizer(data, DECODE_OPTIONS)
  }

  done (): boolean { return this.inner.done() }
  pos (): number { return this.inner.pos() }

  next (): ReturnType<InstanceType<typeof Tokenizer>['next']> {
    const level = this.levels[this.levels.length - 1]
    if (level === undefined || this.inner.done()) throw new CodecError('CODEC_MALFORMED', 'unexpected end of input')
    const start = this.inner.pos()
    const token = this.inner.next()
    const isKey = level.map && level.index % 2 === 0
    level.index++
    level.remaining--
    let children = 0
    switch (token.type) {
      case Type.array: children = token.value as number; break
      case Type.map: children = (token.value as number) * 2; break
      case Type.float: throw new CodecError('CODEC_NON_CANONICAL', 'floats are not used in canonical medchain CBOR')
      case Type.tag: throw new CodecError('CODEC_MALFORMED', 'tags are not used in medchain CBOR')
      case Type.break: throw new CodecError('CODEC_NON_CANONICAL', 'indefinite length')
    }
    if (children > this.data.length - this.inner.pos()) {
      throw new CodecError('CODEC_MALFORMED', `length ${children} exceeds remaining input`)
    }
    if (isKey) {
      if (children > 0) throw new CodecError('CODEC_NON_CANONICAL', 'map keys must be text, bytes or integers')
      const end = this.inner.pos()
      if (level.prevKeyEnd >= 0 && compareRanges(this.data, level.prevKeyStart, level.prevKeyEnd, start, end) >= 0) {
        throw new CodecError('CODEC_NON_CANONICAL', 'map keys must be unique and sorted bytewise')
      }
      level.prevKeyStart = start
      level.prevKeyEnd = end
    }
    if (children > 0) {
      this.levels.push({ remaining: children, map: token.type === Type.map, index: 0, prevKeyStart: -1, prevKeyEnd: -1 })
      // levels[0] is the pseudo-level holding the top item
      if (this.levels.length - 1 > this.maxDepth) throw new CodecError('CODEC_TOO_DEEP', `nesting deeper than ${this.maxDepth}`)
    } else {
      while (this.levels.length > 0 && this.levels[this.levels.length - 1].remaining === 0) this.levels.pop()
    }
    return token
  }
}

/** Bytewise comparison of data[a0:a1] and data[b0:b1] (shorter prefix first). */
function compareRanges (data: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0)
  for (let i = 0; i < n; i++) {
    const d = data[a0 + i] - data[b0 + i]
    if (d !== 0) return d
  }
  return (a1 - a0) - (b1 - b0)
}

function mapCborgError (err: unknown): CodecError {
  if (err instanceof CodecError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (/too many terminals/i.test(message)) return new CodecError('CODEC_TRAILING_BYTES', 'bytes after the item')
  if (/indefinite/i.test(message)) return new CodecError('CODEC_NON_CANONICAL', message)
  if (/minimal|strict|sorted|order/i.test(message)) return new CodecError('CODEC_NON_CANONICAL', message)
  if (/duplicate|repeat/i.test(message)) return new CodecError('CODEC_NON_CANONICAL', message)
  return new CodecError('CODEC_MALFORMED', message)
}

/**
 * Decodes one canonical CBOR item. Rejects: empty or oversize input, malformed or
 * truncated items, trailing bytes, nesting past the limit, tags, floats, undefined,
 * and any encoding that is not the canonical one (unsorted or duplicate map keys,
 * non-minimal integers and lengths, indefinite lengths), in one pass.
 */
export function decode (bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): unknown {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('CODEC_WRONG_TYPE', 'input is not bytes')
  if (bytes.length === 0) throw new CodecError('CODEC_EMPTY', 'empty input')
  if (bytes.length > limits.maxBytes) throw new CodecError('CODEC_OVERSIZE', `${bytes.length} bytes exceeds limit ${limits.maxBytes}`, '', bytes.length)
  let value: unknown
  try {
    const tokenizer = new CheckingTokenizer(bytes, limits.maxDepth)
    value = cborDecode(bytes, { ...DECODE_OPTIONS, tokenizer })
  } catch (err) {
    throw mapCborgError(err)
  }
  return value
}
