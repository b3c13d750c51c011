import type { Bundle, OperationOutcome } from './types.js'

export const FHIR_JSON = 'application/fhir+json'

/** A searchset Bundle of `resources`, each with its full URL under `base` (e.g. http://host/fhir). */
export function searchset (base: string, self: string, resources: Array<{ resourceType: string, id?: string }>): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    link: [{ relation: 'self', url: self }],
    entry: resources.map(r => ({ fullUrl: `${base}/${r.resourceType}/${r.id ?? ''}`, resource: r, search: { mode: 'match' } }))
  }
}

/** An OperationOutcome with one error issue. */
export function errorOutcome (code: string, diagnostics: string, expression?: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics, ...(expression !== undefined ? { expression: [expression] } : {}) }] }
}
