import { fromHex } from '../codec/index.js'
import type { LedgerState } from '../ledger/index.js'
import { ProofBuilder, ProofError, proofToJson } from '../proofs/index.js'
import type { ChainStore } from '../storage/index.js'
import type { ProofQuery } from './api.js'
import { NodeError } from './errors.js'

/** The API side of proofs: a query in, the JSON document `medchain verify` checks out. */
export class ProofService {
  private readonly builder: ProofBuilder
  constructor (chainId: string, store: ChainStore, state: () => LedgerState) {
    this.builder = new ProofBuilder(chainId, store, state)
  }

  async answer (q: ProofQuery): Promise<unknown | null> {
    try {
      if (q.kind === 'tx') {
        const r = await this.builder.txReceipt(q.id)
        return r === null ? null : proofToJson(r)
      }
      const patient = fromHex(q.patient, 32)
      const question = q.kind === 'consent'
        ? { kind: 'consent' as const, patient, grant: fromHex(q.grant, 32) }
        : q.kind === 'record' ? { kind: 'record' as const, patient, record: fromHex(q.record, 32) } : { kind: 'patient' as const, patient }
      return proofToJson(await this.builder.stateProof(question))
    } catch (err) {
      if (err instanceof ProofError && err.code === 'PROOF_UNAVAILABLE') throw new NodeError('PROOF_UNAVAILABLE', err.message, 503, err.value)
      throw err
    }
  }
}
