import { bytesEqual, fromHex } from '../codec/index.js'
import { merkleRoot } from '../crypto/index.js'
import { verifyCommit } from './commit.js'
import { checkSign, allowedSignHash, signedProposal, type LockProof, type SignState, type SignStep } from './signstate.js'
import { VoteSet, hashKey, NIL_KEY } from './voteset.js'
import {
  blockHash, commitHash, voteSignBody, proposalSignBody, totalPower, quorumPower, oneThirdPlusPower,
  proposerIndex, checkValidatorSet, ConsensusError, ZERO_HASH, LIMITS,
  type Block, type Commit, type ConsensusMessage, type ConsensusSigner, type ConsensusVerifier,
  type DuplicateVoteEvidence, type Proposal, type Validator, type Vote, type VoteType
} from './types.js'

export type RoundStep = 'propose' | 'prevote' | 'precommit'

export interface TimeoutConfig {
  proposeMs: number
  prevoteMs: number
  precommitMs: number
  /** Added per round to each timeout, so rounds grow until the network's delay fits. */
  deltaMs: number
  /** How long the driver waits after a commit before starting the next height (driver-side). */
  commitMs?: number
}

/** Deliberate safety bugs, settable only by tests and the simulator, to prove the checkers can fail. */
export type UnsafeMutation = 'no-locking' | 'half-quorum'

export interface CoreOptions {
  chainId: string
  /** null: observe only (never signs). */
  signer: ConsensusSigner | null
  verifier: ConsensusVerifier
  timeouts: TimeoutConfig
  /** The last persisted sign state (null only for a validator that never signed). */
  signState: SignState | null
  /** The last persisted lock proof; used when it matches signState's lock at the starting height. */
  lockProof?: LockProof | null
  maxBufferedMessages?: number
  maxFutureHeights?: number
  maxFutureRounds?: number
  unsafeMutation?: UnsafeMutation
}

export type ConsensusEvent =
  | { type: 'newHeight', height: number, validators: Validator[], prevBlockHash: Uint8Array, prevBlockTime: number, lastCommit: Commit | null, prevValidators?: Validator[] }
  | { type: 'message', message: ConsensusMessage }
  | { type: 'timeout', height: number, round: number, step: RoundStep }
  | { type: 'blockBuilt', height: number, round: number, block: Block }
  | { type: 'blockValidated', height: number, blockHash: Uint8Array, valid: boolean }
  | { type: 'rebroadcast' }

export type RejectCode =
  | 'MSG_BAD_SIGNATURE' | 'MSG_WRONG_PROPOSER' | 'MSG_BAD_INDEX' | 'MSG_BLOCK_MISMATCH'
  | 'MSG_BAD_POL_ROUND' | 'MSG_BUFFER_FULL' | 'MSG_ROUND_TOO_FAR' | 'MSG_CONFLICTING_PROPOSAL'

export type ConsensusEffect =
  /** Persist durably, and only then execute the effects that follow. */
  | { type: 'persistSignState', state: SignState }
  /** Persist durably (with the sign state that follows it) the block we lock on and its proof. */
  | { type: 'persistLock', lock: LockProof }
  | { type: 'broadcast', message: ConsensusMessage }
  | { type: 'scheduleTimeout', height: number, round: number, step: RoundStep, ms: number }
  /** Driver: build a block (choose txs and time >= minTime, execute for stateRoot) and answer blockBuilt. */
  | { type: 'buildBlock', height: number, round: number, proposer: Uint8Array, prevHash: Uint8Array, lastCommit: Commit | null, lastCommitHash: Uint8Array, minTime: number }
  /** Driver: execute speculatively and answer blockValidated. */
  | { type: 'validateBlock', height: number, round: number, blockHash: Uint8Array, block: Block }
  /** Decided: store block + certificate, execute, then send newHeight(height + 1). */
  | { type: 'commit', block: Block, commit: Commit }
  | { type: 'evidence', evidence: DuplicateVoteEvidence }
  | { type: 'signRefused', code: 'SIGN_CONFLICT' | 'SIGN_REGRESSION', height: number, round: number, step: SignStep, blockHash: Uint8Array | null }
  | { type: 'messageRejected', code: RejectCode, detail: string }

interface RoundState {
  prevotes: VoteSet
  precommits: VoteSet
  senders: Set<number>
  senderPower: number
  prevoteTimeoutScheduled: boolean
  precommitTimeoutScheduled: boolean
  lockRuleFired: boolean
}

interface StoredProposal { proposal: Proposal, key: string }

type Validity = 'pending' | 'valid' | 'invalid'

export interface CoreStatus {
  height: number, round: number, step: RoundStep, decided: boolean
  lockedRound: number | null, validRound: number | null, buffered: number
}

/**
 * Tendermint BFT (Buchman, Kwon, Milosevic 2018, Algorithm 1) as a synchronous state machine:
 * `handle(event)` returns the effects the driver must execute, in order. No clock, no
 * randomness, no I/O: same events in, same effects out.
 */
export class ConsensusCore {
  private readonly opts: Required<Omit<CoreOptions, 'unsafeMutation' | 'signState' | 'signer' | 'lockProof'>> & Pick<CoreOptions, 'unsafeMutation'>
  private lockProof: LockProof | null
  private readonly signer: ConsensusSigner | null
  private signState: SignState | null
  private effects: ConsensusEffect[] = []

  private started = false
  private height = 0
  private round = 0
  private step: RoundStep = 'propose'
  private decided = false
  private validators: Validator[] = []
  private prevValidators: Validator[] = []
  private powers: number[] = []
  private quorum = 0
  private skipPower = 0
  private myIndex = -1
  private prevBlockHash: Uint8Array = ZERO_HASH
  private prevBlockTime = 0
  private lastCommit: Commit | null = null

  private lockedRound: number | null = null
  private lockedHash: Uint8Array | null = null
  private validRound: number | null = null
  private validHash: Uint8Array | null = null

  private blocks = new Map<string, Block>()
  private validity = new Map<string, Validity>()
  private proposals = new Map<number, StoredProposal>()
  private rounds = new Map<number, RoundState>()
  private evidenceSeen = new Set<string>()
  private ownMessages: Array<{ round: number, message: ConsensusMessage }> = []
  private buildRequested = -1
  /** Rounds whose precommits reached +2/3 of power (decision candidates), and the highest skip target. */
  private decisionRounds = new Set<number>()
  private skipTarget = -1
  private buffered: ConsensusMessage[] = []

  constructor (options: CoreOptions) {
    if (options.chainId.length === 0 || options.chainId.length > LIMITS.maxChainIdLength) throw new ConsensusError('CONFIG_INVALID', 'bad chain id', options.chainId)
    this.signer = options.signer
    this.signState = options.signState
    this.lockProof = options.lockProof ?? null
    this.opts = {
      chainId: options.chainId,
      verifier: options.verifier,
      timeouts: options.timeouts,
      maxBufferedMessages: options.maxBufferedMessages ?? 10_000,
      maxFutureHeights: options.maxFutureHeights ?? 2,
      maxFutureRounds: options.maxFutureRounds ?? 64,
      unsafeMutation: options.unsafeMutation
    }
  }

  status (): CoreStatus {
    return { height: this.height, round: this.round, step: this.step, decided: this.decided, lockedRound: this.lockedRound, validRound: this.validRound, buffered: this.buffered.length }
  }

  /** The last sign state this core asked to persist (what a restart must be built from). */
  lastSignState (): SignState | null { return this.signState }
  lastLockProof (): LockProof | null { return this.lockProof }

  handle (event: ConsensusEvent): ConsensusEffect[] {
    this.effects = []
    switch (event.type) {
      case 'newHeight': this.onNewHeight(event); break
      case 'message':
        if (this.started) this.onMessage(event.message)
        break
      case 'timeout': if (this.started) this.onTimeout(event.height, event.round, event.step); break
      case 'blockBuilt': if (this.started) this.onBlockBuilt(event.height, event.round, event.block); break
      case 'blockValidated':
        if (this.started && event.height === this.height) {
          const k = hashKey(event.blockHash)
          if (this.validity.get(k) === 'pending') this.validity.set(k, event.valid ? 'valid' : 'invalid')
        }
        break
      case 'rebroadcast': if (this.started) this.onRebroadcast(); break
    }
    if (this.started) this.progress()
    const out = this.effects
    this.effects = []
    return out
  }

  // ---------------------------------------------------------------- heights and rounds

  private onNewHeight (e: Extract<ConsensusEvent, { type: 'newHeight' }>): void {
    if (this.started && e.height <= this.height) return
    checkValidatorSet(e.validators)
    this.started = true
    this.height = e.height
    this.validators = e.validators
    this.prevValidators = e.prevValidators ?? e.validators
    this.powers = e.validators.map(v => v.power)
    const total = totalPower(e.validators)
    this.quorum = this.opts.unsafeMutation === 'half-quorum' ? Math.floor(total / 2) : quorumPower(total)
    this.skipPower = oneThirdPlusPower(total)
    this.myIndex = this.signer === null ? -1 : e.validators.findIndex(v => bytesEqual(v.publicKey, this.signer!.publicKey))
    this.prevBlockHash = e.prevBlockHash
    this.prevBlockTime = e.prevBlockTime
    this.lastCommit = e.lastCommit
    this.decided = false
    this.lockedRound = null; this.lockedHash = null; this.validRound = null; this.validHash = null
    this.blocks = new Map(); this.validity = new Map(); this.proposals = new Map(); this.rounds = new Map()
    this.evidenceSeen = new Set(); this.ownMessages = []; this.buildRequested = -1
    this.decisionRounds = new Set(); this.skipTarget = -1
    let startRound = 0
    // A restart inside a height resumes at the persisted round with the persisted lock.
    const st = this.signState
    if (st !== null && st.height === e.height) {
      startRound = st.round
      if (st.lockedRound !== null && st.lockedHash !== null) { this.lockedRound = st.lockedRound; this.lockedHash = st.lockedHash }
    }
    const lp = this.lockProof
    if (lp !== null && lp.height === e.height && this.lockedRound === lp.round && this.lockedHash !== null) this.restoreLockProof(lp)
    const pending = this.buffered
    this.buffered = []
    this.startRound(startRound)
    for (const m of pending) this.onMessage(m)
  }

  /** Brings back the locked block (as our valid value) and the prevotes proving it, checked like any input. */
  private restoreLockProof (lp: LockProof): void {
    const hash = blockHash(lp.block.header)
    if (!bytesEqual(hash, this.lockedHash!)) return
    const k = hashKey(hash)
    this.blocks.set(k, lp.block)
    this.validity.set(k, 'valid')
    for (const v of lp.prevotes) if (v.height === this.height && v.round === lp.round && v.type === 'prevote') this.onVote(v)
    if (this.roundState(lp.round).prevotes.powerForKey(k) >= this.quorum) { this.validRound = lp.round; this.validHash = hash }
  }

  private startRound (r: number): void {
    this.round = r
    this.step = 'propose'
    // Only the last two rounds' own messages are ever rebroadcast: keep the list bounded.
    this.ownMessages = this.ownMessages.filter(m => m.round >= r - 1)
    this.roundState(r)
    if (this.myIndex >= 0 && proposerIndex(this.validators, this.height, r) === this.myIndex) {
      const vh = this.validHash
      const validBlock = vh !== null ? this.blocks.get(hashKey(vh)) : undefined
      const signed = signedProposal(this.signState, this.height, r)
      if (signed !== null) {
        // Restarted after proposing in this round: only that proposal may be signed here. Re-send
        // it when its block is at hand (lock proof); otherwise it comes back from the WAL or a peer.
        this.buildRequested = r
        const block = this.blocks.get(hashKey(signed.blockHash))
        if (block !== undefined) this.resendSignedProposal(block, signed.blockHash, signed.polRound)
      } else if (validBlock !== undefined && this.validRound !== null) {
        this.propose(validBlock, vh!, this.validRound)
        this.relayProofOfLock()
      } else if (this.buildRequested !== r) {
        this.buildRequested = r
        this.effects.push({
          type: 'buildBlock', height: this.height, round: r, proposer: this.validators[this.myIndex].publicKey,
          prevHash: this.prevBlockHash, lastCommit: this.lastCommit, lastCommitHash: commitHash(this.lastCommit), minTime: this.prevBlockTime + 1
        })
      }
    }
    this.schedule('propose', this.opts.timeouts.proposeMs)
  }

  private schedule (step: RoundStep, base: number): void {
    this.effects.push({ type: 'scheduleTimeout', height: this.height, round: this.round, step, ms: base + this.round * this.opts.timeouts.deltaMs })
  }

  private roundState (r: number): RoundState {
    let rs = this.rounds.get(r)
    if (rs === undefined) {
      rs = {
        prevotes: new VoteSet(this.powers), precommits: new VoteSet(this.powers), senders: new Set(), senderPower: 0,
        prevoteTimeoutScheduled: false, precommitTimeoutScheduled: false, lockRuleFired: false
      }
      this.rounds.set(r, rs)
    }
    return rs
  }

  private noteSender (round: number, rs: RoundState, index: number): void {
    if (!rs.senders.has(index)) { rs.senders.add(index); rs.senderPower += this.powers[index] }
    if (round > this.skipTarget && rs.senderPower >= this.skipPower) this.skipTarget = round
  }

  private notePrecommit (round: number, rs: RoundState): void {
    if (rs.precommits.totalVoted >= this.quorum) this.decisionRounds.add(round)
  }

  // ---------------------------------------------------------------- signing

  /**
   * Double-sign guard: returns the hash that may be signed at this step (see allowedSignHash), or
   * undefined to refuse. A new signature is preceded by a persist effect of what is signed.
   */
  private guard (step: SignStep, hash: Uint8Array | null, polRound: number | null = null): Uint8Array | null | undefined {
    if (this.signer === null || this.myIndex < 0) return undefined
    const allowed = allowedSignHash(this.signState, this.height, this.round, step, hash)
    if (allowed === undefined) {
      const code = checkSign(this.signState, this.height, this.round, step, hash) === 'conflict' ? 'SIGN_CONFLICT' : 'SIGN_REGRESSION'
      this.effects.push({ type: 'signRefused', code, height: this.height, round: this.round, step, blockHash: hash })
      return undefined
    }
    if (checkSign(this.signState, this.height, this.round, step, allowed) === 'new') {
      const prev = this.signState
      const state: SignState = { height: this.height, round: this.round, step, blockHash: allowed, lockedRound: this.lockedRound, lockedHash: this.lockedHash }
      if (step === 'precommit' && prev !== null && prev.height === this.height && prev.round === this.round && prev.step === 'prevote') state.prevoteHash = prev.blockHash
      // The round's signed proposal stays on record through its later steps (see signedProposal).
      const sp = step === 'propose' ? { blockHash: allowed!, polRound } : signedProposal(prev, this.height, this.round)
      if (sp !== null) { state.proposalHash = sp.blockHash; state.proposalPolRound = sp.polRound }
      this.signState = state
      this.effects.push({ type: 'persistSignState', state })
    }
    return allowed
  }

  private propose (block: Block, hash: Uint8Array, polRound: number | null): void {
    if (this.guard('propose', hash, polRound) === undefined) return
    this.signProposal(block, hash, polRound)
  }

  /**
   * Re-sends the proposal the sign state says we signed at this height and round: the same
   * (height, round, polRound, hash) gives the same signed bytes, so this is no new signature.
   */
  private resendSignedProposal (block: Block, hash: Uint8Array, polRound: number | null): void {
    this.signProposal(block, hash, polRound)
    if (polRound !== null) this.relayProofOfLock()
  }

  private signProposal (block: Block, hash: Uint8Array, polRound: number | null): void {
    const body = proposalSignBody(this.height, this.round, polRound, hash)
    const proposal: Proposal = { height: this.height, round: this.round, polRound, blockHash: hash, validatorIndex: this.myIndex, signature: this.signer!.sign('proposal', this.opts.chainId, body) }
    const message: ConsensusMessage = { type: 'proposal', proposal, block }
    this.effects.push({ type: 'broadcast', message })
    this.ownMessages.push({ round: this.round, message })
    const k = hashKey(hash)
    this.blocks.set(k, block)
    if (!this.validity.has(k)) this.validity.set(k, 'valid')
    this.proposals.set(this.round, { proposal, key: k })
    this.noteSender(this.round, this.roundState(this.round), this.myIndex)
  }

  private castVote (type: VoteType, intended: Uint8Array | null): void {
    const hash = this.guard(type, intended)
    if (hash === undefined) return
    const body = voteSignBody(this.height, this.round, hash)
    const vote: Vote = { type, height: this.height, round: this.round, blockHash: hash, validatorIndex: this.myIndex, signature: this.signer!.sign(type, this.opts.chainId, body) }
    const message: ConsensusMessage = { type: 'vote', vote }
    this.effects.push({ type: 'broadcast', message })
    this.ownMessages.push({ round: this.round, message })
    const rs = this.roundState(this.round)
    ;(type === 'prevote' ? rs.prevotes : rs.precommits).add(vote)
    this.noteSender(this.round, rs, this.myIndex)
    if (type === 'precommit') this.notePrecommit(this.round, rs)
  }

  /** Relays the prevotes proving our valid value (the proof-of-lock), so peers can accept a re-proposal. */
  private relayProofOfLock (): void {
    if (this.validRound === null || this.validHash === null) return
    const rs = this.rounds.get(this.validRound)
    if (rs === undefined) return
    for (const vote of rs.prevotes.votesFor(hashKey(this.validHash))) this.effects.push({ type: 'broadcast', message: { type: 'vote', vote } })
  }

  private onRebroadcast (): void {
    this.relayProofOfLock()
    for (const m of this.ownMessages) if (m.round >= this.round - 1) this.effects.push({ type: 'broadcast', message: m.message })
    const p = this.proposals.get(this.round)
    if (p !== undefined && p.proposal.validatorIndex !== this.myIndex) {
      const block = this.blocks.get(p.key)
      if (block !== undefined) this.effects.push({ type: 'broadcast', message: { type: 'proposal', proposal: p.proposal, block } })
    }
  }

  // ---------------------------------------------------------------- inputs

  private reject (code: RejectCode, detail: string): void {
    this.effects.push({ type: 'messageRejected', code, detail })
  }

  private onMessage (m: ConsensusMessage): void {
    const h = m.type === 'vote' ? m.vote.height : m.proposal.height
    const r = m.type === 'vote' ? m.vote.round : m.proposal.round
    if (h < this.height) return
    if (h > this.height) {
      if (h > this.height + this.opts.maxFutureHeights) return
      if (this.buffered.length >= this.opts.maxBufferedMessages) { this.reject('MSG_BUFFER_FULL', `height ${h}`); return }
      this.buffered.push(m)
      return
    }
    if (r > this.round + this.opts.maxFutureRounds) { this.reject('MSG_ROUND_TOO_FAR', `round ${r}`); return }
    if (m.type === 'vote') this.onVote(m.vote)
    else this.onProposal(m.proposal, m.block)
  }

  private onVote (v: Vote): void {
    if (v.validatorIndex >= this.validators.length) { this.reject('MSG_BAD_INDEX', `validator ${v.validatorIndex}`); return }
    const rs = this.roundState(v.round)
    const set = v.type === 'prevote' ? rs.prevotes : rs.precommits
    const key = hashKey(v.blockHash)
    // Verify each vote once: a repeat of a vote we hold costs a map lookup.
    if (set.has(v.validatorIndex, key)) return
    const ok = this.opts.verifier(v.type, this.opts.chainId, voteSignBody(v.height, v.round, v.blockHash), this.validators[v.validatorIndex].publicKey, v.signature)
    if (!ok) { this.reject('MSG_BAD_SIGNATURE', `${v.type} of validator ${v.validatorIndex}`); return }
    const res = set.add(v, key === NIL_KEY || this.blocks.has(key))
    if (res.kind === 'conflict') {
      const key = `${v.round}/${v.type}/${v.validatorIndex}`
      if (!this.evidenceSeen.has(key)) {
        this.evidenceSeen.add(key)
        this.effects.push({ type: 'evidence', evidence: { type: 'duplicateVote', voteA: res.existing, voteB: v } })
      }
      if (res.counted && v.type === 'precommit') this.notePrecommit(v.round, rs)
      return
    }
    this.noteSender(v.round, rs, v.validatorIndex)
    if (v.type === 'precommit') this.notePrecommit(v.round, rs)
    if (v.validatorIndex === this.myIndex) this.adoptOwn(v.round, { type: 'vote', vote: v })
  }

  /**
   * A message we signed, coming back from our WAL after a restart (or echoed by a peer) while
   * this core holds no copy: ours to rebroadcast again. Without this, votes signed before a
   * crash were never re-sent, and peers that lost them could wait for them forever.
   */
  private adoptOwn (round: number, message: ConsensusMessage): void {
    if (this.signer === null) return
    this.ownMessages.push({ round, message })
  }

  private onProposal (p: Proposal, block: Block): void {
    if (p.validatorIndex !== proposerIndex(this.validators, this.height, p.round)) { this.reject('MSG_WRONG_PROPOSER', `validator ${p.validatorIndex} round ${p.round}`); return }
    if (p.polRound !== null && p.polRound >= p.round) { this.reject('MSG_BAD_POL_ROUND', `polRound ${p.polRound} round ${p.round}`); return }
    const have = this.proposals.get(p.round)
    if (have !== undefined) {
      if (have.key !== hashKey(p.blockHash)) this.reject('MSG_CONFLICTING_PROPOSAL', `round ${p.round}`)
      return
    }
    const k = hashKey(p.blockHash)
    const known = this.blocks.has(k)
    if (!known && !bytesEqual(blockHash(block.header), p.blockHash)) { this.reject('MSG_BLOCK_MISMATCH', `round ${p.round}`); return }
    const body = proposalSignBody(p.height, p.round, p.polRound, p.blockHash)
    if (!this.opts.verifier('proposal', this.opts.chainId, body, this.validators[p.validatorIndex].publicKey, p.signature)) {
      this.reject('MSG_BAD_SIGNATURE', `proposal of validator ${p.validatorIndex}`); return
    }
    this.proposals.set(p.round, { proposal: p, key: k })
    this.noteSender(p.round, this.roundState(p.round), p.validatorIndex)
    if (p.validatorIndex === this.myIndex) this.adoptOwn(p.round, { type: 'proposal', proposal: p, block })
    if (known) return
    this.blocks.set(k, block)
    const problem = this.checkBlock(block)
    if (problem !== null) { this.validity.set(k, 'invalid'); return }
    this.validity.set(k, 'pending')
    this.effects.push({ type: 'validateBlock', height: this.height, round: p.round, blockHash: p.blockHash, block })
  }

  /** Structural checks the core owns (chain linkage, commit certificate, tx root); the app checks the rest. */
  private checkBlock (block: Block): string | null {
    const hd = block.header
    if (hd.chainId !== this.opts.chainId) return 'chain id'
    if (hd.height !== this.height) return 'height'
    // A re-proposed valid value keeps the header of the round that built it: require only a
    // member of the set as its author (as CometBFT does), never the current round's proposer.
    if (!this.validators.some(v => bytesEqual(v.publicKey, hd.proposer))) return 'proposer'
    if (!bytesEqual(hd.prevHash, this.prevBlockHash)) return 'prevHash'
    if (hd.time <= this.prevBlockTime) return 'time'
    if (hd.txCount !== block.txs.length) return 'txCount'
    if (!bytesEqual(hd.lastCommitHash, commitHash(block.lastCommit))) return 'lastCommitHash'
    if (this.height === 1) {
      if (block.lastCommit !== null) return 'lastCommit at height 1'
    } else {
      if (block.lastCommit === null) return 'missing lastCommit'
      try {
        verifyCommit(block.lastCommit, this.prevValidators, this.opts.chainId, this.opts.verifier, { height: this.height - 1, blockHash: this.prevBlockHash })
      } catch { return 'lastCommit' }
    }
    if (!bytesEqual(hd.txRoot, merkleRoot(block.txs))) return 'txRoot'
    return null
  }

  private onBlockBuilt (height: number, round: number, block: Block): void {
    if (height !== this.height || round !== this.round || this.step !== 'propose' || this.decided) return
    if (this.proposals.has(round)) return
    // Restarted after proposing in this round: that proposal is the only one we may sign here.
    if (signedProposal(this.signState, height, round) !== null) return
    const hash = blockHash(block.header)
    this.propose(block, hash, null)
  }

  private onTimeout (height: number, round: number, step: RoundStep): void {
    if (height !== this.height || round !== this.round || this.decided) return
    if (step === 'propose' && this.step === 'propose') {
      this.castVote('prevote', null); this.step = 'prevote'
    } else if (step === 'prevote' && this.step === 'prevote') {
      this.castVote('precommit', null); this.step = 'precommit'
    } else if (step === 'precommit') {
      this.startRound(round + 1)
    }
  }

  // ---------------------------------------------------------------- the upon-rules

  private progress (): void {
    // Each pass either changes step/round/decision or stops; bounded for safety.
    for (let i = 0; i < 64; i++) {
      if (this.decided) return
      if (this.tryDecide()) return
      if (this.trySkipRound()) continue
      if (!this.stepRules()) return
    }
  }

  private isValid (k: string): Validity | undefined { return this.validity.get(k) }

  /** Line 49: a proposal's block with +2/3 precommits in any round, validated: commit. */
  private tryDecide (): boolean {
    if (this.decisionRounds.size === 0) return false
    const rounds = [...this.decisionRounds].sort((a, b) => a - b)
    for (const r of rounds) {
      const rs = this.rounds.get(r)!
      const k = rs.precommits.hashWithPower(this.quorum)
      if (k === null || this.isValid(k) !== 'valid') continue
      const block = this.blocks.get(k)
      if (block === undefined) continue
      const signatures = rs.precommits.votesFor(k).map(v => ({ validatorIndex: v.validatorIndex, signature: v.signature }))
      const commit: Commit = { height: this.height, round: r, blockHash: fromHex(k), signatures }
      this.decided = true
      this.effects.push({ type: 'commit', block, commit })
      return true
    }
    return false
  }

  /** Line 55: f+1 power seen in a higher round means at least one honest validator is there. */
  private trySkipRound (): boolean {
    if (this.skipTarget <= this.round) return false
    this.startRound(this.skipTarget)
    return true
  }

  private stepRules (): boolean {
    const rs = this.roundState(this.round)
    let changed = false
    if (this.step === 'propose') {
      const sp = this.proposals.get(this.round)
      if (sp !== undefined) {
        const v = this.isValid(sp.key)
        const pol = sp.proposal.polRound
        const noLocking = this.opts.unsafeMutation === 'no-locking'
        const lockedOnIt = this.lockedHash !== null && hashKey(this.lockedHash) === sp.key
        if (pol === null) {
          // Line 22
          if (v !== 'pending') {
            const ok = v === 'valid' && (this.lockedRound === null || lockedOnIt || noLocking)
            this.castVote('prevote', ok ? sp.proposal.blockHash : null); this.step = 'prevote'; changed = true
          }
        } else {
          // Line 28: a proof-of-lock newer than our lock unlocks us.
          const polSet = this.rounds.get(pol)
          if (polSet !== undefined && polSet.prevotes.powerForKey(sp.key) >= this.quorum && v !== 'pending') {
            const ok = v === 'valid' && (this.lockedRound === null || this.lockedRound <= pol || lockedOnIt || noLocking)
            this.castVote('prevote', ok ? sp.proposal.blockHash : null); this.step = 'prevote'; changed = true
          }
        }
      }
    }
    if (this.step === 'prevote') {
      // Line 34
      if (!rs.prevoteTimeoutScheduled && rs.prevotes.totalVoted >= this.quorum) {
        rs.prevoteTimeoutScheduled = true
        this.schedule('prevote', this.opts.timeouts.prevoteMs)
      }
    }
    if (this.step !== 'propose' && !rs.lockRuleFired) {
      // Line 36
      const sp = this.proposals.get(this.round)
      if (sp !== undefined && this.isValid(sp.key) === 'valid' && rs.prevotes.powerForKey(sp.key) >= this.quorum) {
        rs.lockRuleFired = true
        if (this.step === 'prevote') {
          this.lockedRound = this.round; this.lockedHash = sp.proposal.blockHash
          if (this.myIndex >= 0) {
            this.lockProof = { height: this.height, round: this.round, block: this.blocks.get(sp.key)!, prevotes: rs.prevotes.votesFor(sp.key) }
            this.effects.push({ type: 'persistLock', lock: this.lockProof })
          }
          this.castVote('precommit', sp.proposal.blockHash); this.step = 'precommit'; changed = true
        }
        this.validRound = this.round; this.validHash = sp.proposal.blockHash
      }
    }
    if (this.step === 'prevote' && rs.prevotes.powerFor(null) >= this.quorum) {
      // Line 44
      this.castVote('precommit', null); this.step = 'precommit'; changed = true
    }
    if (!rs.precommitTimeoutScheduled && rs.precommits.totalVoted >= this.quorum) {
      // Line 47
      rs.precommitTimeoutScheduled = true
      this.schedule('precommit', this.opts.timeouts.precommitMs)
    }
    return changed
  }
}

