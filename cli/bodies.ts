import { fromHex, compareBytes } from '../codec/index.js'

// Body fields that carry bytes (32-byte keys, ids, hashes): written as hex on the command line.
const BYTES_FIELDS = new Set(['key', 'patient', 'hash', 'record', 'grantId', 'newKey', 'request', 'representative', 'document', 'representation'])
const SET_FIELDS = new Set(['categories', 'exclude', 'actions', 'purposes', 'scope'])
// Consent window bounds: ms since epoch, or "now" / "+90d" (s, m, h, d) relative to the clock,
// so an example on the command line keeps working as time passes.
const TIME_FIELDS = new Set(['validFrom', 'validUntil', 'majority'])
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

function timeOf (field: string, v: string, now: number): number {
  if (v === 'now') return now
  const m = /^\+(\d{1,6})([smhd])$/.exec(v)
  if (m === null) throw Object.assign(new Error(`--body ${field}: ${JSON.stringify(v)} is not ms since epoch, "now" or "+<n>s|m|h|d"`), { code: 'CLI_BAD_BODY' })
  return now + Number(m[1]) * UNIT_MS[m[2]]
}

/**
 * Turns a JSON body from the command line into a transaction body: hex strings of
 * byte fields become bytes, sets are sorted (the canonical form the chain requires), and
 * window bounds may be written relative to `now`.
 */
export function bodyFromJson (json: unknown, now: number = Date.now()): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('--body must be a JSON object')
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (BYTES_FIELDS.has(k) && typeof v === 'string') out[k] = fromHex(v, 32)
    else if (k === 'guardians' && Array.isArray(v)) out[k] = v.map(x => fromHex(String(x), 32)).sort(compareBytes)
    else if (SET_FIELDS.has(k) && Array.isArray(v)) out[k] = [...new Set(v.map(String))].sort()
    else if (TIME_FIELDS.has(k) && typeof v === 'string') out[k] = timeOf(k, v, now)
    else if (k === 'grantee' && v !== null && typeof v === 'object') out[k] = bodyFromJson(v, now)
    else out[k] = v
  }
  return out
}
