/** Vocabulary and limits of the healthcare application. Sorted lists: sets have one encoding. */

export const TX_VERSION = 1
export const MAX_TX_BYTES = 16 * 1024

/** Data categories. `*` in a grant means every category that is not sensitive. */
export const CATEGORIES = [
  'allergies', 'billing', 'demographics', 'genomics', 'hiv', 'imaging', 'immunizations', 'labs',
  'medications', 'mental_health', 'notes', 'problems', 'procedures', 'sexual_reproductive',
  'substance_use', 'vitals'
] as const
export type Category = typeof CATEGORIES[number]
export const WILDCARD = '*'
export const GRANT_CATEGORIES = [WILDCARD, ...CATEGORIES] as const
export type GrantCategory = typeof GRANT_CATEGORIES[number]

/**
 * Sensitive categories (mental health, 42 CFR Part 2 substance use, sexual and
 * reproductive health, genomics, HIV) are covered only when a grant names them.
 */
export const SENSITIVE_CATEGORIES: ReadonlySet<string> = new Set<Category>(['genomics', 'hiv', 'mental_health', 'sexual_reproductive', 'substance_use'])

export const ACTIONS = ['read', 'write'] as const
export type Action = typeof ACTIONS[number]

/** HL7 v3 PurposeOfUse codes accepted on chain. */
export const PURPOSES = ['CAREMGT', 'ETREAT', 'HLEGAL', 'HMARKT', 'HOPERAT', 'HPAYMT', 'HRESCH', 'HSYSADMIN', 'PATRQT', 'PUBHLTH', 'TREAT'] as const
export type Purpose = typeof PURPOSES[number]

export const ROLES = ['admin', 'emergency_nurse', 'emergency_physician', 'nurse', 'paramedic', 'pharmacist', 'physician', 'researcher'] as const
export type Role = typeof ROLES[number]
/** Roles that may open a break-glass window. */
export const EMERGENCY_ROLES: ReadonlySet<string> = new Set<Role>(['emergency_nurse', 'emergency_physician', 'paramedic'])

/** Kinds of consent grantee: one provider, every provider of a member organisation, or a role. */
export const GRANTEE_TYPES = ['org', 'provider', 'role'] as const
export type GranteeType = typeof GRANTEE_TYPES[number]

export const MAX_GUARDIANS = 10
/** Longest break-glass window: an emergency, not a standing permission. */
export const MAX_BREAK_GLASS_MS = 4 * 60 * 60 * 1000
/** Longest consent validity (10 years). */
export const MAX_GRANT_VALIDITY_MS = 10 * 366 * 24 * 60 * 60 * 1000
/** Active (not revoked, not expired) grants per patient. */
export const MAX_ACTIVE_GRANTS = 64
/** Pending (unanswered, unexpired) access requests per patient. */
export const MAX_PENDING_REQUESTS = 32
export const REQUEST_TTL_MS = 30 * 24 * 60 * 60 * 1000
export const MAX_AMENDMENTS = 64
