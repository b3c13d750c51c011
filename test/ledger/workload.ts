// A deterministic mixed workload: patients grant, providers log access and anchor
// records, patients revoke, providers request access.
import { sha256, sealText, type SealedText } from '../../crypto/index.js'
import { toHex } from '../../codec/index.js'
import type { DecodedTx } from '../../ledger/index.js'
import { DAY, type Chain } from './harness.js'

// A sealed box has a fresh ephemeral key each time; the same workload built twice must be the
// same blocks (determinism tests), so each (text, patient) is sealed once per process.
const sealedCache = new Map<string, SealedText>()
function sealedFor (text: string, patient: Uint8Array): SealedText {
  const k = text + '|' + toHex(patient)
  let v = sealedCache.get(k)
  if (v === undefined) { v = sealText(text, [patient]); sealedCache.set(k, v) }
  return v
}

export function registerPatients (c: Chain, n: number): void {
  const txs = []
  for (let i = 0; i < n; i++) txs.push(c.tx(`p${i}`, 'patient.register', {}))
  const bad = c.block(txs).results.filter(r => r.code !== 'OK')
  if (bad.length > 0) throw new Error(`register failed: ${bad[0].code}`)
}

const PROVIDERS = ['drA', 'drB', 'nurseB', 'er']

/** `perPatient` txs for each of `patients` patients (10 kinds of step, round-robin). */
export function mixedBlock (c: Chain, patients: number, perPatient: number, round: number): DecodedTx[] {
  const txs: DecodedTx[] = []
  for (let i = 0; i < patients; i++) {
    const p = `p${i}`
    const patient = c.key(p)
    for (let k = 0; k < perPatient; k++) {
      const provider = PROVIDERS[(i + k + round) % PROVIDERS.length]
      switch ((k + round) % 10) {
        case 0: txs.push(c.tx(p, 'consent.grant', { grantee: { type: 'provider', key: c.key(provider) }, categories: ['*', 'mental_health'], exclude: ['imaging'], actions: ['read', 'write'], purposes: ['TREAT'], validFrom: c.time, validUntil: c.time + 90 * DAY })); break
        case 1: txs.push(c.tx(p, 'consent.grant', { grantee: { type: 'org', member: 'beta' }, categories: ['labs'], actions: ['read'], purposes: ['HOPERAT', 'TREAT'], validFrom: c.time, validUntil: c.time + 30 * DAY })); break
        case 2: case 3: case 4: case 5:
          txs.push(c.tx(provider, 'access.log', { patient, category: (['labs', 'imaging', 'hiv', 'allergies'] as const)[(i + k) % 4], action: 'read', purpose: 'TREAT' })); break
        case 6: txs.push(c.tx(provider, 'record.anchor', { patient, category: 'labs', hash: sha256(new Uint8Array([i & 255, k, round & 255])), locator: sealedFor(`s3://records/${i}/${k}/${round}`, patient), purpose: 'TREAT' })); break
        case 7: txs.push(c.tx(provider, 'access.request', { patient, categories: ['imaging'], actions: ['read'], purposes: ['TREAT'] })); break
        case 8: txs.push(c.tx('er', 'access.break_glass', { patient, purpose: 'ETREAT', reason: sealedFor('trauma bay', patient), durationMs: 3600_000 })); break
        default: txs.push(c.tx(p, 'patient.register', {})) // fails PATIENT_EXISTS, consumes nonce
      }
    }
  }
  return txs
}
