import { encode, decode, s, CodecError } from '../codec/index.js'
import type { DomainTag } from '../crypto/index.js'
import { sha256 } from '../crypto/index.js'

/** Limits on what the network may hand us: every input is bounded. */
export const LIMITS = {
  maxValidators: 256,
  maxTxsPerBlock: 20_000,
  maxTxBytes: 64 * 1024,
  maxMessageBytes: 8 * 1024 * 1024,
  maxDepth: 8,
  maxChainIdLength: 64
} as const

export const HASH_LENGTH = 32
export const SIGNATURE_MAX_LENGTH = 64
export const ZERO_HASH = new Uint8Array(HASH_LENGTH)

/** A member of the validator set; the set is the genesis-ordered array, indexes are stable. */
export interface Validator { publicKey: Uint8Array, power: number }

export interface BlockHeader {
  chainId: string
  height: number
  /** ms since epoch, chosen by the proposer; must be > previous block time. */
  time: number
  proposer: Uint8Array
  /** Hash of the previous block header; zeros at height 1. */
  prevHash: Uint8Array
  /** sha256(encode(lastCommit)); zeros when lastCommit is null (height 1). */
  lastCommitHash: Uint8Array
  /** merkleRoot of the tx bytes. */
  txRoot: Uint8Array
  txCount: number
  /** Application state root AFTER executing this block. */
  stateRoot: Uint8Array
  /** Merkle root of the transactions' results, in block order (opaque to consensus). */
  resultsRoot: Uint8Array
}

export interface CommitSig { validatorIndex: number, signature: Uint8Array }

/** +2/3 (by power) precommits for blockHash at (height, round); signatures sorted by validatorIndex. */
export interface Commit { height: number, round: number, blockHash: Uint8Array, signatures: CommitSig[] }

export interface Block { header: BlockHeader, txs: Uint8Array[], lastCommit: Commit | null }

export type VoteType = 'prevote' | 'precommit'

/** A signed vote; blockHash null is a vote for nil. */
export interface Vote {
  type: VoteType
  height: number
  round: number
  blockHash: Uint8Array | null
  validatorIndex: number
  signature: Uint8Array
}

/** A signed proposal; polRound is the proof-of-lock round (validRound), null when none. */
export interface Proposal {
  height: number
  round: number
  polRound: number | null
  blockHash: Uint8Array
  validatorIndex: number
  signature: Uint8Array
}

export type ConsensusMessage =
  | { type: 'proposal', proposal: Proposal, block: Block }
  | { type: 'vote', vote: Vote }

/** Two conflicting signed votes of one validator for the same height/round/type. */
export interface DuplicateVoteEvidence { type: 'duplicateVote', voteA: Vote, voteB: Vote }

export type ConsensusErrorCode =
  | 'COMMIT_WRONG_HEIGHT'
  | 'COMMIT_WRONG_BLOCK'
  | 'COMMIT_BAD_INDEX'
  | 'COMMIT_UNSORTED'
  | 'COMMIT_BAD_SIGNATURE'
  | 'COMMIT_INSUFFICIENT_POWER'
  | 'BLOCK_INVALID'
  | 'SIGN_STATE_REGRESSION'
  | 'CONFIG_INVALID'
  | 'DRIVER_INVARIANT'

export class ConsensusError extends Error {
  readonly code: ConsensusErrorCode
  readonly value: unknown
  constructor (code: ConsensusErrorCode, message: string, value?: unknown) {
    super(message)
    this.name = 'ConsensusError'
    this.code = code
    this.value = value
  }
}

// ---- schemas (closed structs: unknown fields are rejected) ----

const hash = s.bytes(HASH_LENGTH)
const height = s.uint()
const round = s.uint(1_000_000)
const index = s.uint(LIMITS.maxValidators - 1)
const signature = s.bytes(1, SIGNATURE_MAX_LENGTH)

export const ValidatorSchema = s.struct({ publicKey: s.bytes(32), power: s.uint(Number.MAX_SAFE_INTEGER / LIMITS.maxValidators) })

export const BlockHeaderSchema = s.struct({
  chainId: s.text(LIMITS.maxChainIdLength),
  height,
  time: s.uint(),
  proposer: s.bytes(32),
  prevHash: hash,
  lastCommitHash: hash,
  txRoot: hash,
  txCount: s.uint(LIMITS.maxTxsPerBlock),
  stateRoot: hash,
  resultsRoot: hash
})

export const CommitSchema = s.struct({
  height,
  round,
  blockHash: hash,
  signatures: s.array(s.struct({ validatorIndex: index, signature }), LIMITS.maxValidators, 1)
})

export const BlockSchema = s.struct({
  header: BlockHeaderSchema,
  txs: s.array(s.bytes(0, LIMITS.maxTxBytes), LIMITS.maxTxsPerBlock),
  lastCommit: s.nullable(CommitSchema)
})

export const VoteSchema = s.struct({
  type: s.oneOf(['prevote', 'precommit'] as const),
  height,
  round,
  blockHash: s.nullable(hash),
  validatorIndex: index,
  signature
})

export const ProposalSchema = s.struct({
  height,
  round,
  polRound: s.nullable(round),
  blockHash: hash,
  validatorIndex: index,
  signature
})

export const ConsensusMessageSchema = s.union('type', {
  proposal: s.struct({ type: s.literal('proposal'), proposal: ProposalSchema, block: BlockSchema }),
  vote: s.struct({ type: s.literal('vote'), vote: VoteSchema })
})

const LIMITS_DECODE = { maxBytes: LIMITS.maxMessageBytes, maxDepth: LIMITS.maxDepth }

function decodeWith<T> (schema: { check (v: unknown, path: string): T }, bytes: Uint8Array): T {
  return schema.check(decode(bytes, LIMITS_DECODE), '')
}

export const encodeBlock = (b: Block): Uint8Array => encode(b)
export const decodeBlock = (bytes: Uint8Array): Block => decodeWith(BlockSchema, bytes) as Block
export const encodeCommit = (c: Commit): Uint8Array => encode(c)
export const decodeCommit = (bytes: Uint8Array): Commit => decodeWith(CommitSchema, bytes) as Commit
export const encodeVote = (v: Vote): Uint8Array => encode(v)
export const decodeVote = (bytes: Uint8Array): Vote => decodeWith(VoteSchema, bytes) as Vote
export const encodeProposal = (p: Proposal): Uint8Array => encode(p)
export const decodeProposal = (bytes: Uint8Array): Proposal => decodeWith(ProposalSchema, bytes) as Proposal
export const encodeMessage = (m: ConsensusMessage): Uint8Array => encode(m)
/** Decodes and schema-checks a network message; throws CodecError on anything malformed. */
export const decodeMessage = (bytes: Uint8Array): ConsensusMessage => decodeWith(ConsensusMessageSchema, bytes) as ConsensusMessage
export { CodecError }

// ---- hashing and signed bodies ----

export function blockHash (header: BlockHeader): Uint8Array {
  return sha256(encode(header))
}

export function commitHash (commit: Commit | null): Uint8Array {
  return commit === null ? ZERO_HASH : sha256(encode(commit))
}

/**
 * The body a vote signature covers; the domain tag (prevote|precommit) and the chain id are
 * added by signingBytes, so together: chain id, height, round, type, block hash.
 */
export function voteSignBody (height: number, round: number, hashOrNil: Uint8Array | null): Uint8Array {
  // Hot path (every vote received): canonical CBOR of [height, round, hash|null] written
  // directly; identical to encode([height, round, hashOrNil]) (checked by tests).
  if (hashOrNil !== null && hashOrNil.length !== HASH_LENGTH) return encode([height, round, hashOrNil])
  const out = new Uint8Array(1 + 9 + 9 + (hashOrNil === null ? 1 : 2 + HASH_LENGTH))
  out[0] = 0x83
  let o = writeUint(out, 1, height)
  o = writeUint(out, o, round)
  if (hashOrNil === null) { out[o++] = 0xf6 } else { out[o++] = 0x58; out[o++] = HASH_LENGTH; out.set(hashOrNil, o); o += HASH_LENGTH }
  return out.subarray(0, o)
}

/** Shortest-form CBOR major type 0 (RFC 8949 §4.2.1). */
function writeUint (out: Uint8Array, o: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a uint: ${n}`)
  if (n < 24) { out[o] = n; return o + 1 }
  if (n < 0x100) { out[o] = 0x18; out[o + 1] = n; return o + 2 }
  if (n < 0x10000) { out[o] = 0x19; out[o + 1] = n >>> 8; out[o + 2] = n & 0xff; return o + 3 }
  if (n < 0x100000000) { out[o] = 0x1a; new DataView(out.buffer, out.byteOffset).setUint32(o + 1, n); return o + 5 }
  out[o] = 0x1b
  const dv = new DataView(out.buffer, out.byteOffset)
  dv.setUint32(o + 1, Math.floor(n / 0x100000000)); dv.setUint32(o + 5, n >>> 0)
  return o + 9
}

export function proposalSignBody (height: number, round: number, polRound: number | null, hash: Uint8Array): Uint8Array {
  return encode([height, round, polRound, hash])
}

/** Signs consensus bytes; the node injects an Ed25519Signer, the simulator a cheap test signer. */
export interface ConsensusSigner {
  readonly publicKey: Uint8Array
  sign (tag: DomainTag, chainId: string, body: Uint8Array): Uint8Array
}

/** Verifies consensus signatures; never throws (crypto.verify has exactly this shape). */
export type ConsensusVerifier = (tag: DomainTag, chainId: string, body: Uint8Array, publicKey: Uint8Array, signature: Uint8Array) => boolean

export function totalPower (validators: readonly Validator[]): number {
  let t = 0
  for (const v of validators) t += v.power
  return t
}

/** Smallest power strictly greater than 2/3 of total. */
export function quorumPower (total: number): number {
  return Math.floor((2 * total) / 3) + 1
}

/** Smallest power strictly greater than 1/3 of total: at least one honest validator. */
export function oneThirdPlusPower (total: number): number {
  return Math.floor(total / 3) + 1
}

/** Simple rotation by height + round over the genesis-ordered set. */
export function proposerIndex (validators: readonly Validator[], height: number, round: number): number {
  return (height + round) % validators.length
}

export function checkValidatorSet (validators: readonly Validator[]): void {
  if (validators.length === 0 || validators.length > LIMITS.maxValidators) {
    throw new ConsensusError('CONFIG_INVALID', `validator set size ${validators.length} outside 1..${LIMITS.maxValidators}`, validators.length)
  }
  for (let i = 0; i < validators.length; i++) {
    try { ValidatorSchema.check(validators[i], `validators[${i}]`) } catch (err) {
      throw new ConsensusError('CONFIG_INVALID', (err as Error).message, i)
    }
    if (validators[i].power < 1) throw new ConsensusError('CONFIG_INVALID', `validator ${i} has zero power`, i)
  }
}
