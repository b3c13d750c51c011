import { SENSITIVE_CATEGORIES, type Action, type Category } from '../ledger/index.js'

/** Code systems and identifier systems the FHIR mapping uses (docs/fhir.md). */
export const SYSTEM = {
  actReason: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  confidentiality: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  consentScope: 'http://terminology.hl7.org/CodeSystem/consentscope',
  consentAction: 'http://terminology.hl7.org/CodeSystem/consentaction',
  participationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  loinc: 'http://loinc.org',
  dicom: 'http://dicom.nema.org/resources/ontology/DCM',
  auditEventType: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
  restful: 'http://hl7.org/fhir/restful-interaction',
  entityType: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  objectRole: 'http://terminology.hl7.org/CodeSystem/object-role',
  resourceTypes: 'http://hl7.org/fhir/resource-types',
  balpAuthZ: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/AuthZsubType',
  securitySourceType: 'http://terminology.hl7.org/CodeSystem/security-source-type',
  /** medchain's own words: a data category, a provider role, a member organisation, a provider key. */
  category: 'urn:medchain:category',
  role: 'urn:medchain:role',
  member: 'urn:medchain:member',
  provider: 'urn:medchain:provider',
  key: 'urn:medchain:key',
  record: 'urn:medchain:record',
  auditType: 'urn:medchain:audit-type',
  decisionReason: 'urn:medchain:decision-reason'
} as const

/**
 * HL7 v3 ActCode sensitivity labels of each sensitive category. The first is the one whose
 * meaning equals the category; the others are narrower and are emitted alongside it so a
 * label-driven FHIR server finds the data either way (import never maps a narrower label
 * alone: a grant on the whole category would permit more than it says).
 */
export const SENSITIVE_LABELS: Readonly<Record<string, readonly string[]>> = {
  mental_health: ['MH', 'PSY'],
  substance_use: ['SUD', 'ETH'],
  hiv: ['HIV'],
  sexual_reproductive: ['SEX', 'STD'],
  genomics: ['GDIS']
}

/** ActCode labels that mean exactly one medchain category. */
export const LABEL_CATEGORY: Readonly<Record<string, Category>> = {
  MH: 'mental_health',
  SUD: 'substance_use',
  ETH: 'substance_use', // "substance abuse information sensitivity": the same data as SUD
  HIV: 'hiv',
  SEX: 'sexual_reproductive',
  GDIS: 'genomics'
}

/** Labels narrower than the category they belong to: accepted only next to the category's own label. */
export const NARROWER_LABEL: Readonly<Record<string, Category>> = { PSY: 'mental_health', STD: 'sexual_reproductive' }

export function isSensitive (c: string): boolean { return SENSITIVE_CATEGORIES.has(c) }

/** FHIR consentaction code of each action: a read is an access, a write (anchor/amend/erase) a correction. */
export const ACTION_CODE: Readonly<Record<Action, string>> = { read: 'access', write: 'correct' }
export const CODE_ACTION: Readonly<Record<string, Action>> = { access: 'read', correct: 'write' }

/** A FHIR resource id: [A-Za-z0-9\-\.]{1,64}. */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/
