import { bytesEqual, fromHex } from '../codec/index.js'
import { merkleProof } from '../crypto/index.js'
import { decodeBlock, decodeCommit, type Commit } from '../consensus/index.js'
import type { LedgerState } from '../ledger/index.js'
import type { ChainStore } from '../storage/index.js'
import { keyOfQuestion, ProofError, type StateProof, type StateQuestion, type TxReceipt } from './proofs.js'

/**
 * Builds receipts and state proofs from a node's store and its current ledger state.
 * State proofs are at the head (the tree keeps the current version only); receipts at
 * any height (a block's result leaves are stored with it).
 */
export class ProofBuilder {
  constructor (private readonly chainId: string, private readonly store: ChainStore, private readonly state: () => LedgerState) {}

  /** The certificate of a height: stored with the block, or carried by the next block. */
  private async commitOf (height: number): Promise<Commit | undefined> {
    const bytes = await this.store.blocks.getCommit(height)
    if (bytes !== undefined) return decodeCommit(bytes)
    const next = await this.store.blocks.get(height + 1)
    const carried = next === undefined ? null : decodeBlock(next).lastCommit
    return carried ?? undefined
  }

  /** Receipt of a committed transaction, or null when the id is unknown. */
  async txReceipt (idHex: string): Promise<TxReceipt | null> {
    const loc = await this.store.txIndex.get(idHex)
    if (loc === undefined) return null
    const bytes = await this.store.blocks.get(loc.height)
    if (bytes === undefined) throw new ProofError('PROOF_UNAVAILABLE', `block ${loc.height} of the tx index is missing`, loc.height)
    const block = decodeBlock(bytes)
    const leaves = await this.store.blocks.getResults(loc.height)
    if (leaves === undefined || leaves.length !== block.txs.length) throw new ProofError('PROOF_UNAVAILABLE', `results of height ${loc.height} are not stored`, loc.height)
    const commit = await this.commitOf(loc.height)
    if (commit === undefined) throw new ProofError('PROOF_UNAVAILABLE', `the commit certificate of height ${loc.height} is not known yet`, loc.height)
    return {
      type: 'tx', chainId: this.chainId, height: loc.height, index: loc.index, tx: block.txs[loc.index], result: leaves[loc.index],
      txProof: merkleProof(block.txs, loc.index), resultProof: merkleProof(leaves, loc.index), header: block.header, commit
    }
  }

  /**
   * A state question answered at the head: value or absence, the proof, the head header and
   * its certificate. Waits (briefly) while a committed block is being applied to the state.
   */
  async stateProof (question: StateQuestion, key = ''): Promise<StateProof> {
    const k = keyOfQuestion(question, key)
    for (let attempt = 0; attempt < 50; attempt++) {
      const head = this.store.head()
      if (head === null) throw new ProofError('PROOF_UNAVAILABLE', 'no block committed yet', 0)
      const state = this.state()
      if (state.height === head.height && bytesEqual(state.stateRoot, head.stateRoot)) {
        // Read synchronously: the state can not move between the proof and the value.
        const proof = state.proveKey(k)
        const value = state.getBytes(k) ?? null
        const bytes = await this.store.blocks.get(head.height)
        if (bytes === undefined) throw new ProofError('PROOF_UNAVAILABLE', `head block ${head.height} is missing`, head.height)
        const block = decodeBlock(bytes)
        const commit = await this.commitOf(head.height)
        if (commit === undefined) throw new ProofError('PROOF_UNAVAILABLE', `the commit certificate of the head (${head.height}) is not known yet`, head.height)
        return { type: 'state', chainId: this.chainId, height: head.height, question, key: k, value: value === null ? null : value.slice(), proof, header: block.header, commit }
      }
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    throw new ProofError('PROOF_UNAVAILABLE', 'the state did not settle on the head', null)
  }
}

export const hex32 = (s: string): Uint8Array => fromHex(s, 32)
