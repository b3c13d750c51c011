import { decode, toHex } from '../codec/index.js'
import { LedgerError } from './errors.js'
import { keys, type AccessRequest, type AuditEntry, type RecordEntry } from './model.js'
import type { ConsentView } from './queries.js'
import type { Representation, RepresentationStatus } from './representation.js'

/**
 * Newest-first pages over a patient's lists (audit trail, consents, records, requests).
 *
 * Every item has a position that never changes once committed: (height, seq) for an audit
 * entry, (height, id) for a grant, record or request. New items always land above every
 * existing position (a later block), so a cursor taken from a page stays valid and paging
 * with it neither skips nor repeats an item while the chain grows.
 */
export const DEFAULT_PAGE_LIMIT = 100
export const MAX_PAGE_LIMIT = 1000

export interface PageRequest {
  /** Items strictly older than this cursor (newest first). The default is the newest page. */
  before?: string
  /** Items strictly newer than this cursor: the `limit` oldest of them, shown newest first. */
  after?: string
  limit: number
}

export interface Page<T> {
  items: Array<T & { cursor: string }>
  /** Cursor for the next page in the same direction (`before` or `after`), or null when there is none yet. */
  next: string | null
}

/** Position of an item: ordered by height, then by `tie` (a padded number or a hex id). */
interface Position { height: number, tie: string }

const AUDIT_CURSOR = /^(\d{1,15})-(\d{1,6})$/
const ITEM_CURSOR = /^(\d{1,15})-([0-9a-f]{64})$/

export function auditCursor (height: number, seq: number): string { return `${height}-${seq}` }
export function itemCursor (height: number, id: Uint8Array): string { return `${height}-${toHex(id)}` }

/** Whether `cursor` is well formed for the list (`audit` or an item list). */
export function isCursor (list: 'audit' | 'items', cursor: string): boolean {
  return (list === 'audit' ? AUDIT_CURSOR : ITEM_CURSOR).test(cursor)
}

function itemPosition (cursor: string): Position {
  const m = ITEM_CURSOR.exec(cursor)
  if (m === null) throw new LedgerError('PAGE_BAD_CURSOR', `cursor ${cursor} is not <height>-<64 hex>`, cursor)
  return { height: Number(m[1]), tie: m[2] }
}

function compare (a: Position, b: Position): number {
  return a.height - b.height || (a.tie < b.tie ? -1 : a.tie > b.tie ? 1 : 0)
}

function checkRequest (req: PageRequest): void {
  if (!Number.isSafeInteger(req.limit) || req.limit < 1 || req.limit > MAX_PAGE_LIMIT) throw new LedgerError('PAGE_BAD_LIMIT', `limit must be an integer in [1, ${MAX_PAGE_LIMIT}]`, req.limit)
  if (req.before !== undefined && req.after !== undefined) throw new LedgerError('PAGE_BAD_CURSOR', 'give before or after, not both', req.after)
}

/** One page of an in-memory list (already read from the state view). */
export function pageOfItems<T> (items: readonly T[], positionOf: (item: T) => { height: number, id: Uint8Array }, req: PageRequest): Page<T> {
  checkRequest(req)
  const located = items.map(item => {
    const p = positionOf(item)
    return { item, pos: { height: p.height, tie: toHex(p.id) } }
  }).sort((a, b) => compare(a.pos, b.pos))
  const withCursor = (x: { item: T, pos: Position }): T & { cursor: string } => ({ ...x.item, cursor: `${x.pos.height}-${x.pos.tie}` })
  if (req.after !== undefined) {
    const from = itemPosition(req.after)
    const newer = located.filter(x => compare(x.pos, from) > 0)
    const window = newer.slice(0, req.limit)
    return { items: window.map(withCursor).reverse(), next: newer.length > req.limit ? withCursor(window[window.length - 1]).cursor : null }
  }
  const to = req.before === undefined ? null : itemPosition(req.before)
  const older = to === null ? located : located.filter(x => compare(x.pos, to) < 0)
  const window = older.slice(Math.max(0, older.length - req.limit)).reverse()
  return { items: window.map(withCursor), next: older.length > req.limit ? withCursor(window[window.length - 1]).cursor : null }
}

export function consentPage (consents: readonly ConsentView[], req: PageRequest): Page<ConsentView> {
  return pageOfItems(consents, c => ({ height: c.grant.granted.height, id: c.grant.id }), req)
}

export function recordPage (records: readonly RecordEntry[], req: PageRequest): Page<RecordEntry> {
  return pageOfItems(records, r => ({ height: r.anchored.height, id: r.id }), req)
}

export function requestPage (requests: readonly AccessRequest[], req: PageRequest): Page<AccessRequest> {
  return pageOfItems(requests, r => ({ height: r.requested.height, id: r.id }), req)
}

/** A patient's representations with their status, newest designation first (cursor <height>-<representation id>). */
export function representationPage (items: ReadonlyArray<{ representation: Representation, status: RepresentationStatus }>, req: PageRequest): Page<{ representation: Representation, status: RepresentationStatus }> {
  return pageOfItems(items, r => ({ height: r.representation.designated.height, id: r.representation.id }), req)
}

/** Reads append-only records under a prefix in key order, or reversed, strictly past `after`: supplied by storage. */
export type PrefixScanner = (prefix: string, options: { reverse: boolean, after?: string, limit: number }) => AsyncIterable<[string, Uint8Array]>

/** A patient's audit trail, a page at a time, newest first, read from the append-only log. */
export async function auditPage (scan: PrefixScanner, patient: Uint8Array, req: PageRequest): Promise<Page<AuditEntry>> {
  checkRequest(req)
  const prefix = keys.auditPrefix(patient)
  const forward = req.after !== undefined
  const cursor = req.after ?? req.before
  let from: string | undefined
  if (cursor !== undefined) {
    const m = AUDIT_CURSOR.exec(cursor)
    if (m === null) throw new LedgerError('PAGE_BAD_CURSOR', `cursor ${cursor} is not <height>-<seq>`, cursor)
    from = keys.audit(patient, Number(m[1]), Number(m[2]))
  }
  // One more than the page: whether it exists says if there is a next page.
  const rows: Array<AuditEntry & { cursor: string }> = []
  for await (const [key, value] of scan(prefix, { reverse: !forward, ...(from !== undefined ? { after: from } : {}), limit: req.limit + 1 })) {
    rows.push({ ...decodeAuditEntry(key, value), cursor: cursorOfAuditKey(key, prefix) })
  }
  const more = rows.length > req.limit
  const items = rows.slice(0, req.limit)
  const next = more ? items[items.length - 1].cursor : null
  return { items: forward ? items.reverse() : items, next }
}

function cursorOfAuditKey (key: string, prefix: string): string {
  const m = /^(\d{12})\/(\d{6})$/.exec(key.slice(prefix.length))
  if (!key.startsWith(prefix) || m === null) throw new LedgerError('STATE_CORRUPT', `audit key ${key} is not ${prefix}<height>/<seq>`, key)
  return auditCursor(Number(m[1]), Number(m[2]))
}

function decodeAuditEntry (key: string, value: Uint8Array): AuditEntry {
  try {
    return decode(value, { maxBytes: 64 * 1024, maxDepth: 8 }) as AuditEntry
  } catch (err) {
    throw new LedgerError('STATE_CORRUPT', `audit entry ${key} does not decode: ${(err as Error).message}`, key)
  }
}
