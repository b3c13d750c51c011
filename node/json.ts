import { toHex } from '../codec/index.js'

/** Renders ledger and chain objects for the JSON API: bytes become lower-case hex. */
export function toJson (value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value)
  if (Array.isArray(value)) return value.map(toJson)
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJson(v)]))
  if (typeof value === 'bigint') return value.toString()
  if (value !== null && typeof value === 'object') {
    // Keys sorted: the same object renders the same JSON whether it was just executed or read back from disk.
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k]
      if (v !== undefined) out[k] = toJson(v)
    }
    return out
  }
  return value
}
