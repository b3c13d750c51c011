import { toHex } from '../codec/index.js'
import type { Vote } from './types.js'

const NIL = 'nil'
export const hashKey = (h: Uint8Array | null): string => h === null ? NIL : toHex(h)
export const NIL_KEY = NIL

/** Conflicting votes kept per validator (each for a different block we know): bounds memory. */
const MAX_CONFLICTING_PER_VALIDATOR = 4

export type AddVoteResult =
  | { kind: 'added' }
  | { kind: 'duplicate' }
  | { kind: 'conflict', existing: Vote, counted: boolean }

/**
 * Votes of one type for one (height, round). A validator's first vote counts toward the
 * round's total; a conflicting vote is evidence, and is also tallied for its block when the
 * caller says that block matters (nil or a proposed block): an equivocator's vote may be part
 * of a real proof-of-lock that peers must be able to check (CometBFT does the same through
 * peer-claimed majorities). Two hashes can still not both reach > 2/3: that would need an
 * honest validator to vote twice.
 */
export class VoteSet {
  private readonly first = new Map<number, Vote>()
  private readonly conflicting = new Map<number, Map<string, Vote>>()
  private readonly powerByHash = new Map<string, number>()
  totalVoted = 0

  constructor (private readonly powers: readonly number[]) {}

  /** True when this validator's vote for this hash key is already held. */
  has (validatorIndex: number, key: string): boolean {
    const f = this.first.get(validatorIndex)
    if (f === undefined) return false
    return hashKey(f.blockHash) === key || (this.conflicting.get(validatorIndex)?.has(key) ?? false)
  }

  add (vote: Vote, countIfConflicting = false): AddVoteResult {
    const key = hashKey(vote.blockHash)
    const existing = this.first.get(vote.validatorIndex)
    if (existing === undefined) {
      this.first.set(vote.validatorIndex, vote)
      this.tally(key, vote.validatorIndex)
      this.totalVoted += this.powers[vote.validatorIndex]
      return { kind: 'added' }
    }
    if (this.has(vote.validatorIndex, key)) return { kind: 'duplicate' }
    let counted = false
    if (countIfConflicting) {
      let m = this.conflicting.get(vote.validatorIndex)
      if (m === undefined) { m = new Map(); this.conflicting.set(vote.validatorIndex, m) }
      if (m.size < MAX_CONFLICTING_PER_VALIDATOR) { m.set(key, vote); this.tally(key, vote.validatorIndex); counted = true }
    }
    return { kind: 'conflict', existing, counted }
  }

  private tally (key: string, index: number): void {
    this.powerByHash.set(key, (this.powerByHash.get(key) ?? 0) + this.powers[index])
  }

  powerFor (hashOrNil: Uint8Array | null): number { return this.powerByHash.get(hashKey(hashOrNil)) ?? 0 }
  powerForKey (key: string): number { return this.powerByHash.get(key) ?? 0 }

  /** The non-nil hash key holding at least `threshold` power, if any. */
  hashWithPower (threshold: number): string | null {
    const keys = [...this.powerByHash.keys()].sort()
    for (const k of keys) if (k !== NIL && (this.powerByHash.get(k) ?? 0) >= threshold) return k
    return null
  }

  /** Each validator's vote for this hash key (first or conflicting), sorted by validator index. */
  votesFor (key: string): Vote[] {
    const out: Vote[] = []
    const idx = [...this.first.keys()].sort((a, b) => a - b)
    for (const i of idx) {
      const f = this.first.get(i)!
      if (hashKey(f.blockHash) === key) { out.push(f); continue }
      const c = this.conflicting.get(i)?.get(key)
      if (c !== undefined) out.push(c)
    }
    return out
  }
}
