import t from 'tap'
import { encode, CodecError } from '../../codec/index.js'
import { Ed25519Signer, verify, generateSeed } from '../../crypto/index.js'
import {
  blockHash, voteSignBody, encodeMessage, decodeMessage, encodeBlock, decodeBlock, encodeCommit, decodeCommit,
  verifyCommit, ConsensusError, checkSign, encodeSignState, decodeSignState, encodeLockProof, decodeLockProof,
  quorumPower, oneThirdPlusPower, proposerIndex, type Commit, type SignState, type Validator
} from '../../consensus/index.js'
import { makeBlock, makeCommit, proposal, vote, validators, verifier, CHAIN } from './harness.js'

const A = makeBlock(1, 1, 1)
const hA = blockHash(A.header)

t.test('messages round-trip through canonical CBOR with their schemas', async t => {
  const commit = makeCommit(A, 0, [0, 1, 2])
  const B = makeBlock(2, 2, 3, { hash: hA, commit, stateRoot: A.header.stateRoot, time: A.header.time })
  for (const m of [proposal(B, 0, null, 2), proposal(B, 3, 1, 3), vote('prevote', 1, 1, 0, hA), vote('precommit', 2, 1, 4, null)]) {
    const bytes = encodeMessage(m)
    t.same(decodeMessage(bytes), m)
    t.same(encodeMessage(decodeMessage(bytes)), bytes, 'one encoding')
  }
  t.same(decodeBlock(encodeBlock(B)), B)
  t.same(decodeCommit(encodeCommit(commit)), commit)
})

t.test('hostile messages are rejected with codec error codes', async t => {
  const v = vote('prevote', 1, 1, 0, hA)
  const extra = encode({ ...v, spare: 1 })
  t.throws(() => decodeMessage(extra), { code: 'CODEC_UNKNOWN_FIELD' })
  const wrongType = encode({ type: 'vote', vote: { ...(v as { vote: object }).vote, type: 'commit' } })
  t.throws(() => decodeMessage(wrongType), { code: 'CODEC_OUT_OF_RANGE' })
  const negative = encode({ type: 'vote', vote: { ...(v as { vote: object }).vote, height: -1 } })
  t.throws(() => decodeMessage(negative), { code: 'CODEC_OUT_OF_RANGE' })
  const shortHash = encode({ type: 'vote', vote: { ...(v as { vote: object }).vote, blockHash: new Uint8Array(31) } })
  t.throws(() => decodeMessage(shortHash), { code: 'CODEC_OUT_OF_RANGE' })
  t.throws(() => decodeMessage(encodeMessage(v).subarray(0, 20)), CodecError)
  t.throws(() => decodeMessage(new Uint8Array([0x83, 0x01, 0x02])), CodecError)
})

t.test('voteSignBody equals the canonical encoding of [height, round, hash]', async t => {
  for (const h of [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    for (const r of [0, 23, 24, 1000]) {
      for (const b of [null, hA]) t.same(Buffer.from(voteSignBody(h, r, b)), Buffer.from(encode([h, r, b])))
    }
  }
})

t.test('blockHash covers every header field', async t => {
  for (const k of Object.keys(A.header) as Array<keyof typeof A.header>) {
    const v = A.header[k]
    const changed = { ...A.header, [k]: typeof v === 'number' ? v + 1 : typeof v === 'string' ? v + 'x' : Uint8Array.from(v as Uint8Array, (x, i) => i === 0 ? x ^ 1 : x) }
    t.not(Buffer.from(blockHash(changed)).toString('hex'), Buffer.from(hA).toString('hex'), `field ${k}`)
  }
})

t.test('verifyCommit with real ed25519 signatures (the node path)', async t => {
  const keys = [0, 1, 2, 3].map(() => new Ed25519Signer(generateSeed()))
  const vals: Validator[] = keys.map(k => ({ publicKey: k.publicKey, power: 10 }))
  const body = voteSignBody(5, 2, hA)
  const sig = (i: number) => ({ validatorIndex: i, signature: keys[i].sign('precommit', CHAIN, body) })
  const good: Commit = { height: 5, round: 2, blockHash: hA, signatures: [sig(0), sig(1), sig(3)] }
  t.doesNotThrow(() => verifyCommit(good, vals, CHAIN))
  t.doesNotThrow(() => verifyCommit(good, vals, CHAIN, verify, { height: 5, blockHash: hA }))
  const code = (c: Commit, chain = CHAIN, expect = {}) => { try { verifyCommit(c, vals, chain, verify, expect); return 'ok' } catch (e) { return (e as ConsensusError).code } }
  t.equal(code({ ...good, signatures: [sig(0), sig(1)] }), 'COMMIT_INSUFFICIENT_POWER', '2 of 4 is not > 2/3')
  t.equal(code({ ...good, signatures: [sig(1), sig(0), sig(3)] }), 'COMMIT_UNSORTED')
  t.equal(code({ ...good, signatures: [sig(0), sig(0), sig(1)] }), 'COMMIT_UNSORTED', 'repeats are not counted twice')
  t.equal(code({ ...good, signatures: [sig(0), sig(1), { validatorIndex: 7, signature: new Uint8Array(64) }] }), 'COMMIT_BAD_INDEX')
  t.equal(code({ ...good, round: 3 }), 'COMMIT_BAD_SIGNATURE', 'signatures bind the round')
  t.equal(code(good, 'other-chain'), 'COMMIT_BAD_SIGNATURE', 'signatures bind the chain id')
  t.equal(code(good, CHAIN, { height: 6 }), 'COMMIT_WRONG_HEIGHT')
  t.equal(code(good, CHAIN, { blockHash: new Uint8Array(32) }), 'COMMIT_WRONG_BLOCK')
  t.equal(code({ ...good, signatures: [] }), 'COMMIT_INSUFFICIENT_POWER')
  // A prevote signature is not a precommit signature (domain tags).
  const prevoteSig = { validatorIndex: 3, signature: keys[3].sign('prevote', CHAIN, body) }
  t.equal(code({ ...good, signatures: [sig(0), sig(1), prevoteSig] }), 'COMMIT_BAD_SIGNATURE')
})

t.test('verifyCommit with the test verifier', async t => {
  t.doesNotThrow(() => verifyCommit(makeCommit(A, 0, [0, 1, 2]), validators, CHAIN, verifier))
  t.throws(() => verifyCommit(makeCommit(A, 0, [0, 1]), validators, CHAIN, verifier), { code: 'COMMIT_INSUFFICIENT_POWER' })
})

t.test('thresholds and proposer rotation', async t => {
  t.equal(quorumPower(4), 3); t.equal(quorumPower(3), 3); t.equal(quorumPower(7), 5); t.equal(quorumPower(10), 7); t.equal(quorumPower(6), 5)
  t.equal(oneThirdPlusPower(4), 2); t.equal(oneThirdPlusPower(10), 4)
  t.same([0, 1, 2, 3, 4].map(r => proposerIndex(validators, 1, r)), [1, 2, 3, 0, 1])
})

t.test('sign state: ordering rules and strict encoding', async t => {
  const last: SignState = { height: 5, round: 2, step: 'prevote', blockHash: hA, lockedRound: null, lockedHash: null }
  t.equal(checkSign(null, 1, 0, 'propose', hA), 'new')
  t.equal(checkSign(last, 5, 2, 'prevote', hA), 'same')
  t.equal(checkSign(last, 5, 2, 'prevote', null), 'conflict')
  t.equal(checkSign(last, 5, 2, 'precommit', null), 'new')
  t.equal(checkSign(last, 5, 3, 'propose', hA), 'new')
  t.equal(checkSign(last, 6, 0, 'propose', hA), 'new')
  t.equal(checkSign(last, 5, 2, 'propose', hA), 'regression')
  t.equal(checkSign(last, 5, 1, 'precommit', hA), 'regression')
  t.equal(checkSign(last, 4, 9, 'precommit', hA), 'regression')
  t.same(decodeSignState(encodeSignState(last)), last)
  const withPrevote: SignState = { ...last, step: 'precommit', blockHash: null, lockedRound: 2, lockedHash: hA, prevoteHash: null }
  t.same(decodeSignState(encodeSignState(withPrevote)), withPrevote)
  t.throws(() => decodeSignState(encode({ ...last, step: 'commit' })), { code: 'CODEC_OUT_OF_RANGE' })
  t.throws(() => decodeSignState(encode({ ...last, extra: 1 })), { code: 'CODEC_UNKNOWN_FIELD' })
  const lock = { height: 1, round: 0, block: A, prevotes: [1, 2, 3].map(i => (vote('prevote', i, 1, 0, hA) as { vote: never }).vote) }
  t.same(decodeLockProof(encodeLockProof(lock)), lock)
})
