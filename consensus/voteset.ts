import { toHex } from '../codec/index.js'
import type { Vote } from './types.js'

const NIL = 'nil'
export const hashKey = (h: Uint8Array | null): string => h === null ? NIL : toHex(h)

/** Result of adding a vote: added, a duplicate of one we hold, or a conflict (equivocation). */
export type AddVoteResult =
  | { kind: 'added' }
  | { kind: 'duplicate' }
  | { kind: 'conflict', existing: Vote }

/**
 * Votes of one type for one (height, round): at most one per validator (the first one
 * wins; a conflicting second is reported, never counted), power tallied per block hash.
 */
export class VoteSet {
  readonly byValidator = new Map<number, Vote>()
  private readonly powerByHash = new Map<string, number>()
  totalVoted = 0

  constructor (private readonly powers: readonly number[]) {}

  /** The vote this validator already cast here, if any. */
  get (validatorIndex: number): Vote | undefined { return this.byValidator.get(validatorIndex) }

  add (vote: Vote): AddVoteResult {
    const existing = this.byValidator.get(vote.validatorIndex)
    if (existing !== undefined) {
      return hashKey(existing.blockHash) === hashKey(vote.blockHash) ? { kind: 'duplicate' } : { kind: 'conflict', existing }
    }
    this.byValidator.set(vote.validatorIndex, vote)
    const p = this.powers[vote.validatorIndex]
    const k = hashKey(vote.blockHash)
    this.powerByHash.set(k, (this.powerByHash.get(k) ?? 0) + p)
    this.totalVoted += p
    return { kind: 'added' }
  }

  powerFor (hashOrNil: Uint8Array | null): number { return this.powerByHash.get(hashKey(hashOrNil)) ?? 0 }
  powerForKey (key: string): number { return this.powerByHash.get(key) ?? 0 }

  /** The non-nil hash key holding at least `threshold` power, if any (at most one can when threshold > 1/2). */
  hashWithPower (threshold: number): string | null {
    const keys = [...this.powerByHash.keys()].sort()
    for (const k of keys) if (k !== NIL && (this.powerByHash.get(k) ?? 0) >= threshold) return k
    return null
  }

  /** Votes for one hash key, sorted by validator index. */
  votesFor (key: string): Vote[] {
    const out: Vote[] = []
    const idx = [...this.byValidator.keys()].sort((a, b) => a - b)
    for (const i of idx) { const v = this.byValidator.get(i)!; if (hashKey(v.blockHash) === key) out.push(v) }
    return out
  }
}
