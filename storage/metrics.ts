/** What storage reports; the node adapts it to its prom-client registry. Optional: tests pass nothing. */
export type StorageWriteKind = 'commitBlock' | 'putCommit' | 'wal' | 'signerState'

export interface StorageMetrics {
  /** One durable write finished: its kind, wall time and payload bytes. */
  observeWrite (kind: StorageWriteKind, seconds: number, bytes: number): void
  /** The open-time integrity check finished (seconds, heights whose summaries were checked). */
  observeIntegrityCheck? (seconds: number, heightsChecked: number): void
}

export function elapsedSeconds (startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9
}
