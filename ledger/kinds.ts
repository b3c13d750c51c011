import { s, CodecError, compareBytes, toHex, type Schema, type Infer } from '../codec/index.js'
import { publicKeyProblem } from '../crypto/index.js'
import { LedgerError } from './errors.js'
import { ACTIONS, CATEGORIES, GRANT_CATEGORIES, MAX_GUARDIANS, PURPOSES, ROLES, type GranteeType } from './constants.js'
import { designationProblem, representationSchemas, type DesignateBody } from './representation.js'

/**
 * An ed25519 public key named in a body: 32 bytes that pass the chain's key rule (canonical,
 * not of small order, on the curve: crypto/README.md). Checked at decode, so a key nobody
 * can be held to (the identity signs for anyone) never becomes a provider, guardian or key.
 */
const key: Schema<Uint8Array> = {
  name: 'publicKey',
  check (v, path) {
    const bytes = s.bytes(32).check(v, path)
    const problem = publicKeyProblem(bytes)
    if (problem !== null) throw new LedgerError('TX_BAD_KEY', `${path} is not an acceptable ed25519 public key (${problem})`, { field: path, key: toHex(bytes), problem })
    return bytes
  }
}

/** A set of byte strings (each checked by `item`): strictly increasing bytewise, so one encoding per set. */
function sortedBytesSet (item: Schema<Uint8Array>, maxItems: number, minItems = 0): Schema<Uint8Array[]> {
  const arr = s.array(item, maxItems, minItems)
  return {
    name: 'bytesSet',
    check (v, path) {
      const items = arr.check(v, path)
      for (let i = 1; i < items.length; i++) {
        if (compareBytes(items[i - 1], items[i]) >= 0) throw new CodecError('CODEC_NON_CANONICAL', 'set items must be sorted and unique', `${path}[${i}]`)
      }
      return items
    }
  }
}

const hash = s.bytes(32)
const id = s.bytes(32)
const category = s.oneOf(CATEGORIES)
const purpose = s.oneOf(PURPOSES)
const action = s.oneOf(ACTIONS)
const locator = s.text(512)

export const granteeSchema = s.union('type', {
  provider: s.struct({ type: s.literal('provider'), key }),
  org: s.struct({ type: s.literal('org'), member: s.text(64) }),
  role: s.struct({ type: s.literal('role'), role: s.oneOf(ROLES) })
} satisfies Record<GranteeType, Schema<unknown>>)
export type Grantee = Infer<typeof granteeSchema>

/** Body schema of every transaction kind. Field meaning: see ledger/README.md. */
export const BODY_SCHEMAS = {
  'provider.register': s.struct({ key, role: s.oneOf(ROLES), name: s.text(128) }),
  'provider.suspend': s.struct({ key, reason: s.optional(s.text(256)) }),
  'provider.reinstate': s.struct({ key }),
  'patient.register': s.struct({ guardians: s.optional(sortedBytesSet(key, MAX_GUARDIANS, 1)), threshold: s.optional(s.uint(MAX_GUARDIANS)) }),
  'patient.rotate_key': s.struct({ newKey: key }),
  'patient.recover': s.struct({ patient: id, newKey: key }),
  'consent.grant': s.struct({
    grantee: granteeSchema,
    categories: s.sortedSet(s.oneOf(GRANT_CATEGORIES), GRANT_CATEGORIES.length, 1),
    exclude: s.optional(s.sortedSet(category, CATEGORIES.length, 1)),
    actions: s.sortedSet(action, ACTIONS.length, 1),
    purposes: s.sortedSet(purpose, PURPOSES.length, 1),
    validFrom: s.uint(),
    validUntil: s.uint(),
    request: s.optional(id),
    // Acting for a patient (ledger/representation.ts): absent, the sender is the patient.
    patient: s.optional(id)
  }),
  'consent.revoke': s.struct({ grantId: id, patient: s.optional(id) }),
  'access.request': s.struct({
    patient: id,
    categories: s.sortedSet(category, CATEGORIES.length, 1),
    actions: s.sortedSet(action, ACTIONS.length, 1),
    purposes: s.sortedSet(purpose, PURPOSES.length, 1),
    note: s.optional(s.text(512))
  }),
  'access.log': s.struct({ patient: id, action, purpose, category: s.optional(category), record: s.optional(id) }),
  'access.break_glass': s.struct({ patient: id, purpose, reason: s.text(512), durationMs: s.uint() }),
  'record.anchor': s.struct({ patient: id, category, hash, locator, purpose }),
  'record.amend': s.struct({ patient: id, record: id, hash, locator, purpose }),
  'record.erase': s.struct({ patient: id, record: id, purpose }),
  ...representationSchemas(key)
} as const

export type TxKind = keyof typeof BODY_SCHEMAS
export const TX_KINDS = Object.keys(BODY_SCHEMAS).sort() as TxKind[]
export type TxBody<K extends TxKind> = Infer<typeof BODY_SCHEMAS[K]>
export type AnyTxBody = { [K in TxKind]: TxBody<K> }[TxKind]

/** Cross-field rules a schema cannot say; stateless, checked at decode. Returns a message or null. */
export function crossFieldProblem (kind: TxKind, body: AnyTxBody): string | null {
  switch (kind) {
    case 'patient.register': {
      const b = body as TxBody<'patient.register'>
      if ((b.guardians === undefined) !== (b.threshold === undefined)) return 'guardians and threshold go together'
      if (b.guardians !== undefined && b.threshold !== undefined && (b.threshold < 1 || b.threshold > b.guardians.length)) return 'threshold must be in 1..guardians'
      return null
    }
    case 'access.log': {
      const b = body as TxBody<'access.log'>
      if ((b.category === undefined) === (b.record === undefined)) return 'exactly one of category and record'
      return null
    }
    case 'representation.designate':
      return designationProblem(body as DesignateBody)
    default:
      return null
  }
}

export function isTxKind (kind: unknown): kind is TxKind {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(BODY_SCHEMAS, kind)
}
