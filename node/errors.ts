/** An error the node reports to a client or operator: a stable code, a message, the offending value. */
export class NodeError extends Error {
  readonly code: string
  readonly status: number
  readonly value: unknown
  /** More fields for the error body, e.g. `allowed` (the words a field accepts). */
  readonly details: Readonly<Record<string, unknown>>
  constructor (code: string, message: string, status = 400, value?: unknown, details: Record<string, unknown> = {}) {
    super(message)
    this.name = 'NodeError'
    this.code = code
    this.status = status
    this.value = value
    this.details = details
  }
}
