import { fromHex } from '../../codec/index.js'
import {
  auditPage, checkAccess, consentPage, describeActor, getPatient, listConsents, listRecords, listRepresentations, pendingRequests, recordPage,
  representationPage, representationStatus, requestPage,
  type Decision, type PageRequest, type PrefixScanner, type StateView
} from '../../ledger/index.js'
import type { DecisionParams } from './params.js'

export interface PatientQuerySources {
  /** The committed ledger state. */
  state: () => StateView
  /** Append-only records (the audit log) on disk. */
  scan: PrefixScanner
  /** Wall clock (ms) for "now" in consent status and request expiry. */
  clock: () => number
}

/**
 * A patient's lists as the API serves them: newest first, a page at a time, each item with
 * its `cursor` and each page with `next` (ledger/pages.ts says why cursors are stable).
 */
export class PatientQueries {
  constructor (private readonly src: PatientQuerySources) {}

  consents (patient: string, at: number | null, page: PageRequest): { patient: string, time: number, consents: unknown[], next: string | null } {
    const time = at ?? this.src.clock()
    const p = consentPage(listConsents(this.src.state(), fromHex(patient, 32), time), page)
    return { patient, time, consents: p.items, next: p.next }
  }

  async audit (patient: string, page: PageRequest): Promise<{ patient: string, entries: unknown[], next: string | null }> {
    const p = await auditPage(this.src.scan, fromHex(patient, 32), page)
    // `by`: who acted, "by representative <key> (<basis>)" when a representative acted for the patient.
    return { patient, entries: p.items.map(e => ({ ...e, by: describeActor(e) })), next: p.next }
  }

  /** Who may act for the patient (issue 19), with each representation's status now (or `at`). */
  representatives (patient: string, at: number | null, page: PageRequest): { patient: string, time: number, representatives: unknown[], next: string | null } {
    const time = at ?? this.src.clock()
    const all = listRepresentations(this.src.state(), fromHex(patient, 32)).map(representation => ({ representation, status: representationStatus(representation, time) }))
    const p = representationPage(all, page)
    return { patient, time, representatives: p.items, next: p.next }
  }

  requests (patient: string, page: PageRequest): { patient: string, time: number, requests: unknown[], next: string | null } {
    const time = this.src.clock()
    const p = requestPage(pendingRequests(this.src.state(), fromHex(patient, 32), time), page)
    return { patient, time, requests: p.items, next: p.next }
  }

  records (patient: string, page: PageRequest): { patient: string, registered: boolean, records: unknown[], next: string | null } {
    const id = fromHex(patient, 32)
    const p = recordPage(listRecords(this.src.state(), id), page)
    return { patient, registered: getPatient(this.src.state(), id) !== undefined, records: p.items, next: p.next }
  }

  decision (q: DecisionParams): Decision {
    return checkAccess(this.src.state(), {
      patient: fromHex(q.patient, 32),
      requester: fromHex(q.grantee, 32),
      category: q.category,
      action: q.action,
      purpose: q.purpose,
      time: q.time ?? this.src.clock()
    })
  }
}
