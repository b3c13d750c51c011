import { toHex } from '../codec/index.js'
import { SENSITIVE_LABELS, SYSTEM } from './codes.js'
import { instant, patientRef } from './consent.js'
import type { Coding, FhirReference } from './types.js'
import type { AuditEntry } from '../ledger/index.js'

export interface FhirAuditEvent { resourceType: 'AuditEvent', id: string, [field: string]: unknown }

/** How an entry's actor is named: a registered provider is a Practitioner; anyone else (the patient, a guardian) by key. */
export type ActorKind = (key: Uint8Array) => 'provider' | 'other'

// The rest interaction a trail entry stands for (BALP "basic" patterns), by entry type.
const REST: Readonly<Record<string, { code: string, action: 'C' | 'R' | 'U' | 'D' | 'E' }>> = {
  'patient.registered': { code: 'create', action: 'C' },
  'patient.key_rotated': { code: 'update', action: 'U' },
  'patient.recovery_approved': { code: 'update', action: 'U' },
  'consent.granted': { code: 'create', action: 'C' },
  'consent.revoked': { code: 'update', action: 'U' },
  'access.requested': { code: 'create', action: 'C' },
  'record.anchored': { code: 'create', action: 'C' },
  'record.amended': { code: 'update', action: 'U' },
  'record.erased': { code: 'delete', action: 'D' }
}

/**
 * One audit-trail entry as a FHIR R4 AuditEvent shaped after IHE BALP (docs/fhir.md):
 * a declared access (`access`) is a BALP Read (or a write interaction), a refused attempt and
 * a break-glass opening are a Consent Authorized Decision (DCM 110113, AuthZ-Consent); every
 * entry names the patient, the Consent that authorised it, and carries the break-glass flag
 * (purposeOfUse BTG). `key` is the entry's audit key (`audit/<patient>/<height>/<seq>`).
 */
export function auditEntryToEvent (patient: Uint8Array, entry: AuditEntry & { key: string }, actorKind: ActorKind): FhirAuditEvent {
  const [, , height, seq] = entry.key.split('/')
  const id = `${Number(height)}-${Number(seq)}-${toHex(patient).slice(0, 32)}`
  const decision = entry.type === 'access.refused' || entry.type === 'access.break_glass'
  const isRead = entry.type === 'access' && entry.action === 'read'
  const mine: Coding = { system: SYSTEM.auditType, code: entry.type }
  let type: Coding
  let subtype: Coding[]
  let action: string
  if (decision) {
    type = { system: SYSTEM.dicom, code: '110113', display: 'Security Alert' }
    subtype = [{ system: SYSTEM.balpAuthZ, code: 'AuthZ-Consent' }, mine]
    action = 'E'
  } else if (entry.type === 'access') {
    const rest = isRead ? { code: 'read', action: 'R' } : { code: 'update', action: 'U' }
    type = { system: SYSTEM.auditEventType, code: 'rest', display: 'Restful Operation' }
    subtype = [{ system: SYSTEM.restful, code: rest.code }, mine]
    action = rest.action
  } else {
    const rest = REST[entry.type] ?? { code: 'read', action: 'E' as const }
    type = { system: SYSTEM.auditEventType, code: 'rest', display: 'Restful Operation' }
    subtype = [{ system: SYSTEM.restful, code: rest.code }, mine]
    action = rest.action
  }
  const actorHex = toHex(entry.actor)
  const who: FhirReference = actorKind(entry.actor) === 'provider'
    ? { reference: `Practitioner/${actorHex}` }
    : { identifier: { system: SYSTEM.key, value: actorHex } }
  const purposeOfUse: Array<{ coding: Coding[] }> = []
  if (entry.purpose !== undefined) purposeOfUse.push({ coding: [{ system: SYSTEM.actReason, code: entry.purpose }] })
  if (entry.breakGlass === true) purposeOfUse.push({ coding: [{ system: SYSTEM.actReason, code: 'BTG', display: 'break the glass' }] })
  const entity: unknown[] = [{
    type: { system: SYSTEM.entityType, code: '1', display: 'Person' },
    role: { system: SYSTEM.objectRole, code: '1', display: 'Patient' },
    what: patientRef(patient)
  }]
  if (entry.grantId !== undefined) {
    entity.push({ type: { system: SYSTEM.resourceTypes, code: 'Consent' }, what: { reference: `Consent/${toHex(entry.grantId)}` } })
  }
  if (entry.record !== undefined || entry.category !== undefined) {
    const labels: Coding[] = entry.category === undefined
      ? []
      : [{ system: SYSTEM.category, code: entry.category }, ...(SENSITIVE_LABELS[entry.category] ?? []).map(code => ({ system: SYSTEM.actCode, code }))]
    entity.push({
      type: { system: SYSTEM.entityType, code: '2', display: 'System Object' },
      role: { system: SYSTEM.objectRole, code: '4', display: 'Domain Resource' },
      ...(entry.record !== undefined ? { what: { identifier: { system: SYSTEM.record, value: toHex(entry.record) } } } : {}),
      ...(labels.length > 0 ? { securityLabel: labels } : {})
    })
  }
  const denied = entry.permit === false || entry.refused === true
  const event: FhirAuditEvent = {
    resourceType: 'AuditEvent',
    id,
    type,
    subtype,
    action,
    recorded: instant(entry.at.time),
    outcome: denied ? '8' : '0',
    agent: [{
      type: { coding: [{ system: SYSTEM.participationType, code: 'IRCP', display: 'information recipient' }] },
      who,
      requestor: true,
      ...(purposeOfUse.length > 0 ? { purposeOfUse } : {})
    }],
    source: {
      observer: { display: 'medchain ledger' },
      type: [{ system: SYSTEM.securitySourceType, code: '4', display: 'Application Server' }]
    },
    entity
  }
  // Why: the decision table's reason (CONSENT_GRANTED, NO_CONSENT, BREAK_GLASS...) or the refusal's code.
  const why = entry.reason ?? entry.code
  if (why !== undefined) event.outcomeDesc = entry.refused === true ? `refused ${entry.kind ?? ''} (${entry.code ?? ''}): ${why}`.replace(' ()', '') : why
  return event
}
