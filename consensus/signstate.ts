import { bytesEqual, encode, decode, s } from '../codec/index.js'
import { BlockSchema, VoteSchema, LIMITS, type Block, type Vote } from './types.js'

/** Steps in signing order within a round: a proposal precedes our prevote, then our precommit. */
export type SignStep = 'propose' | 'prevote' | 'precommit'
const STEP_ORDER: Record<SignStep, number> = { propose: 0, prevote: 1, precommit: 2 }

/**
 * What this validator last signed, plus its lock. Persisted (durably) before any signature
 * leaves the process; a restarted core is built from it, so it can neither sign a conflicting
 * message for the same height/round/step nor go back in height/round/step, nor forget a lock.
 */
export interface SignState {
  height: number
  round: number
  step: SignStep
  /** Hash signed at (height, round, step); null = nil vote. */
  blockHash: Uint8Array | null
  /** Lock at this height (lockedRound / hash of lockedValue), null when unlocked. */
  lockedRound: number | null
  lockedHash: Uint8Array | null
  /**
   * The prevote signed at (height, round) when step is 'precommit' (null = nil; absent = none),
   * so a restarted validator can resend exactly that prevote: peers may never have seen it.
   */
  prevoteHash?: Uint8Array | null
  /**
   * The proposal this validator signed at (height, round), if it proposed there: kept through the
   * round's later steps so a restarted proposer re-sends that same signed proposal instead of
   * building another block it may not sign (the signature covers exactly these values).
   */
  proposalHash?: Uint8Array
  proposalPolRound?: number | null
}

export const SignStateSchema = s.struct({
  height: s.uint(),
  round: s.uint(),
  step: s.oneOf(['propose', 'prevote', 'precommit'] as const),
  blockHash: s.nullable(s.bytes(32)),
  lockedRound: s.nullable(s.uint()),
  lockedHash: s.nullable(s.bytes(32)),
  prevoteHash: s.optional(s.nullable(s.bytes(32))),
  proposalHash: s.optional(s.bytes(32)),
  proposalPolRound: s.optional(s.nullable(s.uint()))
})

export const encodeSignState = (st: SignState): Uint8Array => encode(st)
export const decodeSignState = (bytes: Uint8Array): SignState => SignStateSchema.check(decode(bytes, { maxBytes: 1024, maxDepth: 2 }), '') as SignState

/** The proposal signed at (height, round) according to `last`, or null when there is none on record. */
export function signedProposal (last: SignState | null, height: number, round: number): { blockHash: Uint8Array, polRound: number | null } | null {
  if (last === null || last.height !== height || last.round !== round || last.proposalHash === undefined) return null
  return { blockHash: last.proposalHash, polRound: last.proposalPolRound ?? null }
}

export type SignCheck = 'new' | 'same' | 'conflict' | 'regression'

/**
 * Decides whether signing (height, round, step, hash) is allowed after `last`:
 * 'new' (strictly later H/R/S), 'same' (identical H/R/S and hash: re-signing the same bytes
 * is harmless), 'conflict' (same H/R/S, other hash) or 'regression' (earlier H/R/S).
 */
export function checkSign (last: SignState | null, height: number, round: number, step: SignStep, hash: Uint8Array | null): SignCheck {
  if (last === null) return 'new'
  if (height !== last.height) return height > last.height ? 'new' : 'regression'
  if (round !== last.round) return round > last.round ? 'new' : 'regression'
  if (step !== last.step) return STEP_ORDER[step] > STEP_ORDER[last.step] ? 'new' : 'regression'
  const same = hash === null ? last.blockHash === null : last.blockHash !== null && bytesEqual(hash, last.blockHash)
  return same ? 'same' : 'conflict'
}

/**
 * The locked block and the +2/3 prevotes that justify the lock (the proof-of-lock). Persisted
 * with the precommit that creates the lock, so a restarted validator can still re-propose the
 * block and prove the lock to peers: without it, a lock whose evidence died in a crash can
 * stall the height (the role of CometBFT's consensus WAL).
 */
export interface LockProof { height: number, round: number, block: Block, prevotes: Vote[] }

export const LockProofSchema = s.struct({
  height: s.uint(),
  round: s.uint(),
  block: BlockSchema,
  prevotes: s.array(VoteSchema, LIMITS.maxValidators * 5, 1)
})

export const encodeLockProof = (p: LockProof): Uint8Array => encode(p)
export const decodeLockProof = (bytes: Uint8Array): LockProof =>
  LockProofSchema.check(decode(bytes, { maxBytes: LIMITS.maxMessageBytes, maxDepth: LIMITS.maxDepth }), '') as LockProof

/**
 * What may be signed at (height, round, step) given `last`: the intended hash when that is new
 * or identical; the hash already signed there when the intent differs (re-sending the same
 * signed vote is not equivocation, and peers may have lost the first copy in our crash);
 * `undefined` when nothing may be signed (a regression with no record of what was signed).
 */
export function allowedSignHash (last: SignState | null, height: number, round: number, step: SignStep, hash: Uint8Array | null): Uint8Array | null | undefined {
  const c = checkSign(last, height, round, step, hash)
  if (c === 'new' || c === 'same') return hash
  if (last === null) return undefined
  if (c === 'conflict') return step === 'propose' ? undefined : last.blockHash
  if (step === 'prevote' && last.height === height && last.round === round && last.step === 'precommit' && last.prevoteHash !== undefined) return last.prevoteHash
  return undefined
}
