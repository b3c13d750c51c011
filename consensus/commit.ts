import { bytesEqual } from '../codec/index.js'
import { verify as ed25519Verify } from '../crypto/index.js'
import {
  ConsensusError, voteSignBody, totalPower, quorumPower, LIMITS,
  type Commit, type Validator, type ConsensusVerifier
} from './types.js'

export interface CommitExpectation { height?: number, blockHash?: Uint8Array }

/**
 * Checks a commit certificate: signatures sorted by validator index without repeats, each a
 * valid precommit for (height, round, blockHash) under chainId, signers holding > 2/3 of
 * the power. Throws ConsensusError (COMMIT_*) naming the offending value. Used by the core
 * for block.lastCommit and by block sync.
 */
export function verifyCommit (
  commit: Commit,
  validators: readonly Validator[],
  chainId: string,
  verifier: ConsensusVerifier = ed25519Verify,
  expect: CommitExpectation = {}
): void {
  if (expect.height !== undefined && commit.height !== expect.height) {
    throw new ConsensusError('COMMIT_WRONG_HEIGHT', `commit for height ${commit.height}, expected ${expect.height}`, commit.height)
  }
  if (expect.blockHash !== undefined && !bytesEqual(commit.blockHash, expect.blockHash)) {
    throw new ConsensusError('COMMIT_WRONG_BLOCK', 'commit is for another block', commit.blockHash)
  }
  if (commit.signatures.length === 0 || commit.signatures.length > LIMITS.maxValidators) {
    throw new ConsensusError('COMMIT_INSUFFICIENT_POWER', 'commit has no signatures', commit.signatures.length)
  }
  const body = voteSignBody(commit.height, commit.round, commit.blockHash)
  let power = 0
  let previous = -1
  for (const sig of commit.signatures) {
    const i = sig.validatorIndex
    if (!Number.isInteger(i) || i < 0 || i >= validators.length) throw new ConsensusError('COMMIT_BAD_INDEX', `validator index ${i} out of range`, i)
    if (i <= previous) throw new ConsensusError('COMMIT_UNSORTED', 'signatures must be sorted by validator index, without repeats', i)
    previous = i
    if (!verifier('precommit', chainId, body, validators[i].publicKey, sig.signature)) {
      throw new ConsensusError('COMMIT_BAD_SIGNATURE', `bad precommit signature of validator ${i}`, i)
    }
    power += validators[i].power
  }
  const needed = quorumPower(totalPower(validators))
  if (power < needed) throw new ConsensusError('COMMIT_INSUFFICIENT_POWER', `commit power ${power} < ${needed}`, power)
}
