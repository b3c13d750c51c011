/** The slice of FHIR R4 JSON the mapping reads and writes (not a full model: validation is the tests' job). */
export interface Coding { system?: string, code?: string, display?: string }
export interface CodeableConcept { coding?: Coding[], text?: string }
export interface Identifier { system?: string, value?: string }
export interface FhirReference { reference?: string, type?: string, identifier?: Identifier, display?: string }
export interface Period { start?: string, end?: string }
export interface ProvisionActor { role: CodeableConcept, reference: FhirReference }
export interface Provision {
  type?: string
  period?: Period
  actor?: ProvisionActor[]
  action?: CodeableConcept[]
  securityLabel?: Coding[]
  purpose?: Coding[]
  class?: Coding[]
  code?: CodeableConcept[]
  dataPeriod?: Period
  data?: unknown[]
  provision?: Provision[]
}
export interface FhirConsent {
  resourceType: 'Consent'
  id?: string
  status: string
  scope: CodeableConcept
  category: CodeableConcept[]
  patient?: FhirReference
  dateTime?: string
  performer?: FhirReference[]
  policyRule?: CodeableConcept
  provision?: Provision
  [other: string]: unknown
}
export interface OperationOutcomeIssue { severity: 'fatal' | 'error' | 'warning' | 'information', code: string, diagnostics?: string, expression?: string[], details?: CodeableConcept }
export interface OperationOutcome { resourceType: 'OperationOutcome', issue: OperationOutcomeIssue[] }
export interface Bundle { resourceType: 'Bundle', type: 'searchset', total: number, link?: Array<{ relation: string, url: string }>, entry: Array<{ fullUrl?: string, resource: unknown, search?: { mode: 'match' } }> }
