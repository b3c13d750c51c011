import { fromHex, toHex } from '../codec/index.js'
import { openSealedText, sealText, type SealedText } from '../crypto/index.js'
import { SEALED_FIELDS, type TxKind } from '../ledger/index.js'
import type { MedchainClient } from './client.js'

/** The field of `kind` that carries sealed free text, if any. */
export function sealedFieldOf (kind: TxKind): string | undefined {
  return (SEALED_FIELDS as Partial<Record<TxKind, string>>)[kind]
}

/**
 * Who a body's free text is sealed to: the patient it names, the sender's organisation (the
 * member that registered the provider, from the node's account answer), and any extra keys.
 */
export async function sealRecipients (client: MedchainClient, sender: Uint8Array, body: Record<string, unknown>, extra: Uint8Array[] = []): Promise<Uint8Array[]> {
  const out = [...extra]
  if (body.patient instanceof Uint8Array) out.push(body.patient)
  const account = await client.get<{ org?: { key: string } }>(`/v1/accounts/${toHex(sender)}`)
  if (account.org !== undefined) out.push(fromHex(account.org.key, 32))
  return out
}

/** Seals the kind's free-text field when the body carries it as plain text. */
export function sealBody (kind: TxKind, body: Record<string, unknown>, recipients: Uint8Array[]): Record<string, unknown> {
  const field = sealedFieldOf(kind)
  if (field === undefined || typeof body[field] !== 'string') return body
  return { ...body, [field]: sealText(body[field], recipients) }
}

function isSealedJson (v: unknown): v is { sealed: Array<{ to: string, box: string }> } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const sealed = (v as { sealed?: unknown }).sealed
  return Object.keys(v).length === 1 && Array.isArray(sealed) && sealed.every(b => typeof b?.to === 'string' && typeof b?.box === 'string')
}

/**
 * An API answer with every sealed text that `seed` can open replaced by its plain text;
 * the others stay as they are (sealed to someone else).
 */
export function openSealedJson (value: unknown, seed: Uint8Array): unknown {
  if (Array.isArray(value)) return value.map(v => openSealedJson(v, seed))
  if (value === null || typeof value !== 'object') return value
  if (isSealedJson(value)) {
    let sealed: SealedText
    try {
      sealed = { sealed: value.sealed.map(b => ({ to: fromHex(b.to, 32), box: fromHex(b.box) })) }
    } catch { return value }
    return openSealedText(sealed, seed) ?? value
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, openSealedJson(v, seed)]))
}
