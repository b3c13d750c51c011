// Scripted-scenario helpers for core unit tests (not a test file).
import { ConsensusCore, type ConsensusEffect, type CoreOptions } from '../../consensus/core.js'
import { TestSigner, testVerifier } from '../../consensus/sim/testsig.js'
import { buildSimBlock, simTx, GENESIS_STATE_ROOT } from '../../consensus/sim/app.js'
import {
  blockHash, commitHash, voteSignBody, proposalSignBody, ZERO_HASH,
  type Block, type Commit, type ConsensusMessage, type Validator, type VoteType
} from '../../consensus/types.js'

export const CHAIN = 'unit-chain'
export const signers = [0, 1, 2, 3].map(i => new TestSigner(new Uint8Array(32).fill(i + 1)))
export const verifier = testVerifier(signers)
export const validators: Validator[] = signers.map(s => ({ publicKey: s.publicKey, power: 1 }))
export const timeouts = { proposeMs: 1000, prevoteMs: 500, precommitMs: 500, deltaMs: 100 }

export function makeCore (index: number, extra: Partial<CoreOptions> = {}): ConsensusCore {
  return new ConsensusCore({ chainId: CHAIN, signer: signers[index], verifier, timeouts, signState: null, ...extra })
}

export function newHeight (height = 1, prev?: { hash: Uint8Array, time: number, commit: Commit }) {
  return {
    type: 'newHeight' as const, height, validators, prevBlockHash: prev?.hash ?? ZERO_HASH,
    prevBlockTime: prev?.time ?? 0, lastCommit: prev?.commit ?? null
  }
}

export function makeBlock (height: number, proposer: number, salt: number, prev?: { hash: Uint8Array, commit: Commit, stateRoot: Uint8Array, time: number }): Block {
  return buildSimBlock({
    chainId: CHAIN, height, time: (prev?.time ?? 0) + 1000 + salt, proposer: signers[proposer].publicKey, prevHash: prev?.hash ?? ZERO_HASH,
    lastCommit: prev?.commit ?? null, lastCommitHash: commitHash(prev?.commit ?? null), prevStateRoot: prev?.stateRoot ?? GENESIS_STATE_ROOT,
    txs: [simTx(proposer, height, 0, 0, salt)]
  })
}

export function proposal (block: Block, round: number, polRound: number | null, proposer: number): ConsensusMessage {
  const h = block.header.height
  const hash = blockHash(block.header)
  const signature = signers[proposer].sign('proposal', CHAIN, proposalSignBody(h, round, polRound, hash))
  return { type: 'proposal', proposal: { height: h, round, polRound, blockHash: hash, validatorIndex: proposer, signature }, block }
}

export function vote (type: VoteType, validator: number, height: number, round: number, hash: Uint8Array | null): ConsensusMessage {
  const signature = signers[validator].sign(type, CHAIN, voteSignBody(height, round, hash))
  return { type: 'vote', vote: { type, height, round, blockHash: hash, validatorIndex: validator, signature } }
}

export const msg = (message: ConsensusMessage) => ({ type: 'message' as const, message })

/** Own votes broadcast in these effects, as "type:hash8|nil". */
export function ownVotes (effects: ConsensusEffect[], me: number): string[] {
  const out: string[] = []
  for (const e of effects) {
    if (e.type === 'broadcast' && e.message.type === 'vote' && e.message.vote.validatorIndex === me) {
      const v = e.message.vote
      out.push(`${v.type}:${v.blockHash === null ? 'nil' : Buffer.from(v.blockHash).toString('hex').slice(0, 8)}`)
    }
  }
  return out
}

export const short = (h: Uint8Array | null): string => h === null ? 'nil' : Buffer.from(h).toString('hex').slice(0, 8)

/** Makes a valid commit for a block at (height, round) signed by the given validators. */
export function makeCommit (block: Block, round: number, by: number[]): Commit {
  const hash = blockHash(block.header)
  return {
    height: block.header.height, round, blockHash: hash,
    signatures: by.map(i => ({ validatorIndex: i, signature: signers[i].sign('precommit', CHAIN, voteSignBody(block.header.height, round, hash)) }))
  }
}
