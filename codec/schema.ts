import { CodecError } from './errors.js'

/**
 * Checks a decoded CBOR value against a shape and returns it typed. Every struct is
 * closed: a field that the schema does not name is CODEC_UNKNOWN_FIELD, so two nodes
 * never disagree on what a signed object means.
 */
export interface Schema<T> {
  readonly name: string
  check (value: unknown, path: string): T
}

export type Infer<S> = S extends Schema<infer T> ? T : never

function fail (code: 'CODEC_WRONG_TYPE' | 'CODEC_OUT_OF_RANGE', path: string, expected: string, value: unknown): never {
  const shown = value instanceof Uint8Array ? `bytes(${value.length})` : typeof value === 'string' && value.length > 64 ? value.slice(0, 64) + '…' : value
  throw new CodecError(code, `expected ${expected}`, path || '$', shown)
}

export const uint = (max = Number.MAX_SAFE_INTEGER): Schema<number> => ({
  name: 'uint',
  check (v, path) {
    if (typeof v !== 'number' || !Number.isInteger(v)) fail('CODEC_WRONG_TYPE', path, 'unsigned integer', v)
    if (v < 0 || v > max) fail('CODEC_OUT_OF_RANGE', path, `integer in [0, ${max}]`, v)
    return v
  }
})

export const bool: Schema<boolean> = {
  name: 'bool',
  check (v, path) { if (typeof v !== 'boolean') fail('CODEC_WRONG_TYPE', path, 'boolean', v); return v }
}

export const text = (maxLength = 256, pattern?: RegExp): Schema<string> => ({
  name: 'text',
  check (v, path) {
    if (typeof v !== 'string') fail('CODEC_WRONG_TYPE', path, 'text', v)
    if (v.length > maxLength) fail('CODEC_OUT_OF_RANGE', path, `text of at most ${maxLength} chars`, v)
    if (pattern !== undefined && !pattern.test(v)) fail('CODEC_OUT_OF_RANGE', path, `text matching ${pattern.source}`, v)
    return v
  }
})

/** Bytes of an exact length (`bytes(32)`) or up to a maximum (`bytes(0, 1024)`). */
export const bytes = (length: number, maxLength?: number): Schema<Uint8Array> => ({
  name: 'bytes',
  check (v, path) {
    if (!(v instanceof Uint8Array)) fail('CODEC_WRONG_TYPE', path, 'bytes', v)
    if (maxLength === undefined ? v.length !== length : v.length < length || v.length > maxLength) {
      fail('CODEC_OUT_OF_RANGE', path, maxLength === undefined ? `${length} bytes` : `${length}..${maxLength} bytes`, v)
    }
    return v
  }
})

export const oneOf = <const T extends readonly string[]>(values: T): Schema<T[number]> => ({
  name: 'enum',
  check (v, path) {
    if (typeof v !== 'string') fail('CODEC_WRONG_TYPE', path, `one of ${values.join('|')}`, v)
    if (!values.includes(v)) fail('CODEC_OUT_OF_RANGE', path, `one of ${values.join('|')}`, v)
    return v as T[number]
  }
})

export const literal = <const T extends string | number>(value: T): Schema<T> => ({
  name: 'literal',
  check (v, path) { if (v !== value) fail('CODEC_OUT_OF_RANGE', path, JSON.stringify(value), v); return value }
})

export const array = <T>(item: Schema<T>, maxItems: number, minItems = 0): Schema<T[]> => ({
  name: 'array',
  check (v, path) {
    if (!Array.isArray(v)) fail('CODEC_WRONG_TYPE', path, 'array', v)
    if (v.length > maxItems || v.length < minItems) fail('CODEC_OUT_OF_RANGE', path, `${minItems}..${maxItems} items`, v.length)
    for (let i = 0; i < v.length; i++) item.check(v[i], `${path}[${i}]`)
    return v as T[]
  }
})

/** Like `array` but the items must be strictly increasing: sets have one encoding. */
export const sortedSet = <T extends string | number>(item: Schema<T>, maxItems: number, minItems = 0): Schema<T[]> => ({
  name: 'set',
  check (v, path) {
    const arr = array(item, maxItems, minItems).check(v, path)
    for (let i = 1; i < arr.length; i++) {
      if (!(arr[i - 1] < arr[i])) throw new CodecError('CODEC_NON_CANONICAL', 'set items must be sorted and unique', `${path}[${i}]`, arr[i])
    }
    return arr
  }
})

export const nullable = <T>(inner: Schema<T>): Schema<T | null> => ({
  name: `${inner.name}?`,
  check (v, path) { return v === null ? null : inner.check(v, path) }
})

type Fields = Record<string, Schema<unknown>>
type OptionalKeys<F extends Fields> = { [K in keyof F]: F[K] extends OptionalSchema<unknown> ? K : never }[keyof F]
type StructOf<F extends Fields> =
  { -readonly [K in Exclude<keyof F, OptionalKeys<F>>]: Infer<F[K]> } &
  { -readonly [K in OptionalKeys<F>]?: Infer<F[K]> }

export interface OptionalSchema<T> extends Schema<T> { readonly optional: true }

/** A field that may be absent (absent, never null, so each value has one encoding). */
export const optional = <T>(inner: Schema<T>): OptionalSchema<T> => ({ ...inner, name: inner.name, optional: true, check: inner.check.bind(inner) })

export const struct = <F extends Fields>(fields: F): Schema<StructOf<F>> => ({
  name: 'struct',
  check (v, path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) fail('CODEC_WRONG_TYPE', path, 'map', v)
    const obj = v as Record<string, unknown>
    for (const key of Object.keys(obj)) {
      if (!Object.prototype.hasOwnProperty.call(fields, key)) throw new CodecError('CODEC_UNKNOWN_FIELD', `unknown field "${key}"`, path || '$', key)
    }
    for (const [key, schema] of Object.entries(fields)) {
      const fieldPath = path === '' ? key : `${path}.${key}`
      if (!Object.prototype.hasOwnProperty.call(obj, key) || obj[key] === undefined) {
        if ((schema as OptionalSchema<unknown>).optional === true) continue
        throw new CodecError('CODEC_MISSING_FIELD', `missing field "${key}"`, fieldPath)
      }
      schema.check(obj[key], fieldPath)
    }
    return obj as StructOf<F>
  }
})

/** A tagged union over a string field (e.g. `type`), each variant a closed struct. */
export const union = <K extends string, V extends Record<string, Schema<unknown>>>(tagField: K, variants: V): Schema<{ [T in keyof V]: Infer<V[T]> }[keyof V]> => ({
  name: 'union',
  check (v, path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('CODEC_WRONG_TYPE', path, 'map', v)
    const tag = (v as Record<string, unknown>)[tagField]
    if (typeof tag !== 'string' || !Object.prototype.hasOwnProperty.call(variants, tag)) {
      fail('CODEC_OUT_OF_RANGE', path === '' ? tagField : `${path}.${tagField}`, `one of ${Object.keys(variants).join('|')}`, tag)
    }
    return variants[tag].check(v, path) as { [T in keyof V]: Infer<V[T]> }[keyof V]
  }
})
