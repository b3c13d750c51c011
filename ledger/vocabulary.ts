import { ACTIONS, CATEGORIES, GRANT_CATEGORIES, GRANTEE_TYPES, PURPOSES, ROLES } from './constants.js'

/**
 * Every closed list of words a client may send (query parameters, CLI options, body
 * fields): the one source the API, the CLI and the transaction schemas all check against.
 * `category` is a data category; `grantCategory` also admits `*` (grants only).
 */
export const VOCABULARY = {
  category: CATEGORIES,
  grantCategory: GRANT_CATEGORIES,
  action: ACTIONS,
  purpose: PURPOSES,
  role: ROLES,
  granteeType: GRANTEE_TYPES
} as const

export type VocabularyField = keyof typeof VOCABULARY
export type Term<F extends VocabularyField> = typeof VOCABULARY[F][number]

/** Whether `value` is one of the words of `field` (exact, case-sensitive: `Labs` is not `labs`). */
export function isTerm<F extends VocabularyField> (field: F, value: unknown): value is Term<F> {
  return typeof value === 'string' && (VOCABULARY[field] as readonly string[]).includes(value)
}
