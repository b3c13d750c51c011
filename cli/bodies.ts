import { fromHex, compareBytes } from '../codec/index.js'

// Body fields that carry bytes (32-byte keys, ids, hashes): written as hex on the command line.
const BYTES_FIELDS = new Set(['key', 'patient', 'hash', 'record', 'grantId', 'newKey', 'request'])
const SET_FIELDS = new Set(['categories', 'exclude', 'actions', 'purposes'])

/**
 * Turns a JSON body from the command line into a transaction body: hex strings of
 * byte fields become bytes, sets are sorted (the canonical form the chain requires).
 */
export function bodyFromJson (json: unknown): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('--body must be a JSON object')
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (BYTES_FIELDS.has(k) && typeof v === 'string') out[k] = fromHex(v, 32)
    else if (k === 'guardians' && Array.isArray(v)) out[k] = v.map(x => fromHex(String(x), 32)).sort(compareBytes)
    else if (SET_FIELDS.has(k) && Array.isArray(v)) out[k] = [...new Set(v.map(String))].sort()
    else if (k === 'grantee' && v !== null && typeof v === 'object') out[k] = bodyFromJson(v)
    else out[k] = v
  }
  return out
}
