import { toHex } from '../codec/index.js'
import { sealText, sha256 } from '../crypto/index.js'
import { buildTx, fastSigner, type TxBody, type TxKind, type TxSigner, type GrantCategory, type Category } from '../ledger/index.js'

/** One signed transaction ready to submit. */
export interface BenchTx {
  bytes: Uint8Array
  id: string
  kind: TxKind
  /** First byte of the sender key: spreads senders over validators, one sender per validator. */
  route: number
}

interface Actor { signer: TxSigner, nonce: number }
interface Patient extends Actor { grants: string[], revoked: number, records: number }

export interface WorkloadOptions {
  chainId: string
  /** Seeds of the genesis members (the validators' node keys): they register providers. */
  memberSeeds: Uint8Array[]
  patients: number
  providers: number
  /** Block time base for consent windows (genesis time, ms). */
  genesisTime: number
  /** Seed of the deterministic mix; same seed, same transactions. */
  seed?: number
}

const CLINICAL: Category[] = ['allergies', 'imaging', 'immunizations', 'labs', 'medications', 'notes', 'problems', 'procedures', 'vitals']
const ROLES = ['physician', 'nurse', 'pharmacist', 'emergency_physician', 'researcher'] as const
const YEAR_MS = 365 * 24 * 3600 * 1000

/** xorshift32: a tiny seeded generator so a workload is reproducible run to run. */
function rng (seed: number): () => number {
  let x = (seed | 0) === 0 ? 0x9e3779b9 : seed | 0
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    return (x >>> 0) / 0x1_0000_0000
  }
}

function deriveSeed (label: string): Uint8Array { return sha256(new TextEncoder().encode(label)) }

/**
 * Pre-generates identities and a realistic stream of signed transactions:
 * a setup phase (members register providers, patients register themselves), then an
 * endless load mix of consent grants and revokes, record anchors and access logs whose
 * decisions come out as permits and denies. Nonces are tracked per sender, so the
 * stream is valid in order.
 */
export class Workload {
  private readonly members: Actor[]
  private readonly providers: Actor[] = []
  private readonly patients: Patient[] = []
  private readonly random: () => number
  private cursor = 0
  /** Raw bytes of every transaction produced so far (for disk-per-tx ratios). */
  generatedBytes = 0
  generated = 0

  constructor (readonly opts: WorkloadOptions) {
    this.random = rng(opts.seed ?? 7)
    this.members = opts.memberSeeds.map(seed => ({ signer: fastSigner(seed), nonce: 0 }))
    for (let i = 0; i < opts.providers; i++) this.providers.push({ signer: fastSigner(deriveSeed(`bench-provider-${i}`)), nonce: 0 })
    for (let i = 0; i < opts.patients; i++) this.patients.push({ signer: fastSigner(deriveSeed(`bench-patient-${i}`)), nonce: 0, grants: [], revoked: 0, records: 0 })
  }

  private make<K extends TxKind> (actor: Actor, kind: K, body: TxBody<K>): BenchTx {
    const built = buildTx(kind, body, { chainId: this.opts.chainId, signer: actor.signer, nonce: actor.nonce++ })
    this.generatedBytes += built.bytes.length
    this.generated++
    return { bytes: built.bytes, id: toHex(built.id), kind, route: actor.signer.publicKey[0] }
  }

  /** Provider registrations (by members, round-robin) and patient self-registrations. */
  setupTxs (): BenchTx[] {
    const out: BenchTx[] = []
    for (const [i, p] of this.providers.entries()) {
      const member = this.members[i % this.members.length]
      out.push(this.make(member, 'provider.register', { key: p.signer.publicKey, role: ROLES[i % ROLES.length], name: `Dr. Bench ${i}` }))
    }
    for (const p of this.patients) out.push(this.make(p, 'patient.register', {}))
    return out
  }

  /** The next `count` transactions of the load mix. */
  loadTxs (count: number): BenchTx[] {
    const out: BenchTx[] = []
    for (let i = 0; i < count; i++) out.push(this.nextLoadTx())
    return out
  }

  private pick<T> (items: readonly T[]): T { return items[Math.floor(this.random() * items.length)] }

  nextLoadTx (): BenchTx {
    // Patients in turn, so consecutive transactions come from different senders.
    const index = this.cursor++ % this.patients.length
    const patient = this.patients[index]
    const patientId = patient.signer.publicKey
    // A patient's own provider (fixed per patient), and another one it never consented to.
    const ownIndex = index % this.providers.length
    const own = this.providers[ownIndex]
    const stranger = this.providers[(ownIndex + 1 + (this.cursor % Math.max(1, this.providers.length - 1))) % this.providers.length]
    const r = this.random()
    const t0 = this.opts.genesisTime
    if (patient.grants.length - patient.revoked === 0 || r < 0.2) {
      const categories: GrantCategory[] = this.random() < 0.5 ? ['*'] : [this.pick(CLINICAL)]
      const tx = this.make(patient, 'consent.grant', {
        grantee: { type: 'provider', key: own.signer.publicKey },
        categories,
        ...(categories[0] === '*' ? { exclude: ['billing'] as Category[] } : {}),
        actions: ['read', 'write'],
        purposes: ['TREAT'],
        validFrom: t0,
        validUntil: t0 + YEAR_MS
      })
      patient.grants.push(tx.id)
      return tx
    }
    if (r < 0.3 && patient.grants.length - patient.revoked > 1) {
      // Revoke the oldest active grant (grants are revoked in the order given).
      const grantId = patient.grants[patient.revoked++]
      return this.make(patient, 'consent.revoke', { grantId: Buffer.from(grantId, 'hex') })
    }
    if (r < 0.5) {
      patient.records++
      const hash = sha256(new TextEncoder().encode(`record-${toHex(patientId)}-${patient.records}`))
      // Sealed to the patient and to the member that registered the provider (round-robin above), as the CLI does.
      const org = this.members[ownIndex % this.members.length].signer.publicKey
      const locator = sealText(`s3://hospital-bench/records/${toHex(hash).slice(0, 24)}.fhir.enc`, [patientId, org])
      return this.make(own, 'record.anchor', { patient: patientId, category: this.pick(CLINICAL), hash, locator, purpose: 'TREAT' })
    }
    if (r < 0.8) return this.make(own, 'access.log', { patient: patientId, action: 'read', purpose: 'TREAT', category: this.pick(CLINICAL) }) // mostly permits
    if (r < 0.9) return this.make(own, 'access.log', { patient: patientId, action: 'read', purpose: 'HMARKT', category: this.pick(CLINICAL) }) // deny: purpose not consented
    return this.make(stranger, 'access.log', { patient: patientId, action: 'read', purpose: 'TREAT', category: 'mental_health' }) // deny: no consent, sensitive
  }
}
