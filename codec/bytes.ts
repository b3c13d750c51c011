import { CodecError } from './errors.js'

const HEX_RE = /^(?:[0-9a-f]{2})*$/

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Lower-case, even-length hex only: one spelling per value, so ids compare as strings. */
export function fromHex (hex: string, expectedLength?: number): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) throw new CodecError('CODEC_BAD_HEX', 'not lower-case even-length hex', '', hex)
  const out = new Uint8Array(Buffer.from(hex, 'hex'))
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new CodecError('CODEC_BAD_HEX', `expected ${expectedLength} bytes, got ${out.length}`, '', hex)
  }
  return out
}

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/
const B64URL_RE = /^[A-Za-z0-9_-]*$/

export function toBase64 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/** Accepts standard base64 (padded) or base64url (unpadded); rejects anything else. */
export function fromBase64 (text: string): Uint8Array {
  if (typeof text !== 'string') throw new CodecError('CODEC_BAD_BASE64', 'not a string', '', text)
  if (B64_RE.test(text) && text.length % 4 === 0) return new Uint8Array(Buffer.from(text, 'base64'))
  if (B64URL_RE.test(text)) return new Uint8Array(Buffer.from(text, 'base64url'))
  throw new CodecError('CODEC_BAD_BASE64', 'not base64', '', text.length > 64 ? text.slice(0, 64) + '…' : text)
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

const enc = new TextEncoder()
export function utf8 (s: string): Uint8Array { return enc.encode(s) }

/** Big-endian fixed-width encoding, so keys sort in numeric order. */
export function u64be (n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new CodecError('CODEC_OUT_OF_RANGE', 'not a non-negative safe integer', '', n)
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n))
  return out
}

export function readU64be (b: Uint8Array, offset = 0): number {
  return Number(new DataView(b.buffer, b.byteOffset + offset, 8).getBigUint64(0))
}
