import {
  DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, VOCABULARY, isCursor, isTerm,
  type Action, type Category, type PageRequest, type Purpose, type Term, type VocabularyField
} from '../../ledger/index.js'
import { NodeError } from '../errors.js'

/**
 * Parses what a client sends into the typed values the ledger's queries take. Every word
 * is checked against the ledger's own lists (ledger/vocabulary.ts), never cast: a typo is a
 * 400 that names the field and lists the allowed words, not a wrong answer.
 */

/** Stable code of a word outside its list, per field (documented in node/openapi.ts). */
export const TERM_ERROR_CODES: Readonly<Record<VocabularyField, string>> = {
  category: 'API_BAD_CATEGORY',
  grantCategory: 'API_BAD_CATEGORY',
  action: 'API_BAD_ACTION',
  purpose: 'API_BAD_PURPOSE',
  role: 'API_BAD_ROLE',
  granteeType: 'API_BAD_GRANTEE_TYPE'
}

/** `value` as a word of `field`, or NodeError API_BAD_<FIELD> (400) with the allowed words. */
export function termParam<F extends VocabularyField> (field: F, name: string, value: unknown): Term<F> {
  if (isTerm(field, value)) return value
  const allowed = VOCABULARY[field]
  throw new NodeError(TERM_ERROR_CODES[field], `${name} ${JSON.stringify(value)} is not one of: ${allowed.join(', ')}`, 400, value, { field: name, allowed })
}

export interface DecisionParams {
  patient: string
  grantee: string
  category: Category
  action: Action
  purpose: Purpose
  time: number | null
}

/** The decision query's parameters; hex ids are checked by the route's schema. */
export function decisionParams (q: { patient: string, grantee: string, category: string, action: string, purpose: string, time?: number }): DecisionParams {
  return {
    patient: q.patient,
    grantee: q.grantee,
    category: termParam('category', 'category', q.category),
    action: termParam('action', 'action', q.action),
    purpose: termParam('purpose', 'purpose', q.purpose),
    time: q.time ?? null
  }
}

/** Query-string schema of a paged list (fastify checks the limit's bounds: API_BAD_REQUEST). */
export const PAGE_QUERY_PROPERTIES = {
  before: { type: 'string', maxLength: 100 },
  after: { type: 'string', maxLength: 100 },
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT }
} as const

/** A page request from `before`/`after`/`limit`; a malformed cursor or both cursors is API_BAD_CURSOR. */
export function pageParams (list: 'audit' | 'items', q: { before?: string, after?: string, limit?: number }): PageRequest {
  if (q.before !== undefined && q.after !== undefined) throw new NodeError('API_BAD_CURSOR', 'give before or after, not both', 400, { before: q.before, after: q.after })
  const shape = list === 'audit' ? '<height>-<seq>' : '<height>-<64 hex id>'
  for (const [name, cursor] of [['before', q.before], ['after', q.after]] as const) {
    if (cursor !== undefined && !isCursor(list, cursor)) throw new NodeError('API_BAD_CURSOR', `${name} ${JSON.stringify(cursor)} is not a cursor ${shape} (take it from a page's next or an item's cursor)`, 400, cursor)
  }
  return {
    limit: q.limit ?? DEFAULT_PAGE_LIMIT,
    ...(q.before !== undefined ? { before: q.before } : {}),
    ...(q.after !== undefined ? { after: q.after } : {})
  }
}
