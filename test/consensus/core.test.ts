import t from 'tap'
import { blockHash, verifyCommit, type ConsensusEffect } from '../../consensus/index.js'
import { GENESIS_STATE_ROOT } from '../../consensus/sim/app.js'
import { makeCore, newHeight, makeBlock, proposal, vote, msg, ownVotes, short, makeCommit, validators, verifier, CHAIN } from './harness.js'

const A = makeBlock(1, 1, 1) // proposed by v1 (proposer of height 1 round 0)
const B = makeBlock(1, 2, 2) // proposed by v2 (proposer of height 1 round 1)
const hA = blockHash(A.header)
const hB = blockHash(B.header)

/** Core of validator 0 at height 1 round 0, having validated and prevoted A. */
function prevotedA (extra = {}) {
  const core = makeCore(0, extra)
  core.handle(newHeight(1))
  const e1 = core.handle(msg(proposal(A, 0, null, 1)))
  const e2 = core.handle({ type: 'blockValidated', height: 1, blockHash: hA, valid: true })
  return { core, effects: [...e1, ...e2] }
}

/** ...then +2/3 prevotes for A: locked on A at round 0 and precommitted A. */
function lockedOnA (extra = {}) {
  const { core } = prevotedA(extra)
  core.handle(msg(vote('prevote', 1, 1, 0, hA)))
  const effects = core.handle(msg(vote('prevote', 2, 1, 0, hA)))
  return { core, effects }
}

/** Moves a core from round r to r+1 by timeouts. */
function toNextRound (core: ReturnType<typeof makeCore>, r: number): ConsensusEffect[] {
  return [
    ...core.handle({ type: 'timeout', height: 1, round: r, step: 'propose' }),
    ...core.handle({ type: 'timeout', height: 1, round: r, step: 'prevote' }),
    ...core.handle({ type: 'timeout', height: 1, round: r, step: 'precommit' })
  ]
}

t.test('proposer: build, persist, then broadcast the proposal and its own prevote', async t => {
  const core = makeCore(1)
  const start = core.handle(newHeight(1))
  t.same(start.map(e => e.type), ['buildBlock', 'scheduleTimeout'])
  const build = start[0] as Extract<ConsensusEffect, { type: 'buildBlock' }>
  t.equal(build.height, 1); t.equal(build.round, 0); t.equal(build.minTime, 1); t.equal(build.lastCommit, null)
  const effects = core.handle({ type: 'blockBuilt', height: 1, round: 0, block: A })
  t.same(effects.map(e => e.type), ['persistSignState', 'broadcast', 'persistSignState', 'broadcast'])
  t.match(effects[0], { state: { height: 1, round: 0, step: 'propose' } })
  t.match(effects[1], { message: { type: 'proposal', proposal: { round: 0, polRound: null, validatorIndex: 1 } } })
  t.same(ownVotes(effects, 1), [`prevote:${short(hA)}`])
})

t.test('non-proposer asks the application to validate, then prevotes the block or nil', async t => {
  const core = makeCore(0)
  core.handle(newHeight(1))
  const e1 = core.handle(msg(proposal(A, 0, null, 1)))
  t.same(e1.map(e => e.type), ['validateBlock'], 'no vote before the block is validated')
  t.same(ownVotes(core.handle({ type: 'blockValidated', height: 1, blockHash: hA, valid: true }), 0), [`prevote:${short(hA)}`])
  const other = makeCore(0)
  other.handle(newHeight(1))
  other.handle(msg(proposal(A, 0, null, 1)))
  t.same(ownVotes(other.handle({ type: 'blockValidated', height: 1, blockHash: hA, valid: false }), 0), ['prevote:nil'], 'invalid block: nil')
})

t.test('timeouts: propose timeout prevotes nil; timeouts grow with the round', async t => {
  const core = makeCore(0)
  const e0 = core.handle(newHeight(1))
  t.match(e0, [{ type: 'scheduleTimeout', step: 'propose', round: 0, ms: 1000 }])
  t.same(ownVotes(core.handle({ type: 'timeout', height: 1, round: 0, step: 'propose' }), 0), ['prevote:nil'])
  t.same(ownVotes(core.handle({ type: 'timeout', height: 1, round: 0, step: 'prevote' }), 0), ['precommit:nil'])
  const e1 = core.handle({ type: 'timeout', height: 1, round: 0, step: 'precommit' })
  t.match(e1.find(e => e.type === 'scheduleTimeout'), { step: 'propose', round: 1, ms: 1100 })
  t.equal(core.status().round, 1)
  t.same(core.handle({ type: 'timeout', height: 1, round: 0, step: 'propose' }), [], 'a stale timeout does nothing')
})

t.test('nil votes: +2/3 nil prevotes precommit nil and start the prevote timer', async t => {
  const core = makeCore(0)
  core.handle(newHeight(1))
  core.handle({ type: 'timeout', height: 1, round: 0, step: 'propose' })
  core.handle(msg(vote('prevote', 1, 1, 0, null)))
  const e = core.handle(msg(vote('prevote', 2, 1, 0, null)))
  t.same(ownVotes(e, 0), ['precommit:nil'])
  t.ok(e.some(x => x.type === 'scheduleTimeout' && x.step === 'prevote'), 'prevote timeout on +2/3 of any prevotes')
  core.handle(msg(vote('precommit', 1, 1, 0, null)))
  const e2 = core.handle(msg(vote('precommit', 2, 1, 0, hA)))
  t.ok(e2.some(x => x.type === 'scheduleTimeout' && x.step === 'precommit'), 'precommit timeout on +2/3 of any precommits')
  t.notOk(e2.some(x => x.type === 'commit'))
})

t.test('mixed prevotes: timer only, then the prevote timeout precommits nil', async t => {
  const { core } = prevotedA()
  core.handle(msg(vote('prevote', 1, 1, 0, null)))
  const e = core.handle(msg(vote('prevote', 2, 1, 0, hB)))
  t.same(ownVotes(e, 0), [])
  t.ok(e.some(x => x.type === 'scheduleTimeout' && x.step === 'prevote'))
  t.same(ownVotes(core.handle({ type: 'timeout', height: 1, round: 0, step: 'prevote' }), 0), ['precommit:nil'])
})

t.test('locking: +2/3 prevotes lock the block, the lock is persisted before the precommit leaves', async t => {
  const { core, effects: all } = lockedOnA()
  const effects = all.filter(e => e.type !== 'scheduleTimeout')
  t.same(effects.map(e => e.type), ['persistLock', 'persistSignState', 'broadcast'])
  t.match(effects[1], { state: { step: 'precommit', lockedRound: 0 } })
  t.equal(short((effects[0] as Extract<ConsensusEffect, { type: 'persistLock' }>).lock.prevotes[0].blockHash), short(hA))
  t.same(ownVotes(effects, 0), [`precommit:${short(hA)}`])
  t.equal(core.status().lockedRound, 0)
  // Round 1 proposes another block with no proof-of-lock: a locked validator prevotes nil.
  toNextRound(core, 0)
  core.handle(msg(proposal(B, 1, null, 2)))
  const e = core.handle({ type: 'blockValidated', height: 1, blockHash: hB, valid: true })
  t.same(ownVotes(e, 0), ['prevote:nil'])
})

t.test('unlocking: a proposal with a newer proof-of-lock is prevoted despite the lock', async t => {
  const { core } = lockedOnA()
  toNextRound(core, 0)
  core.handle(msg(proposal(B, 1, null, 2)))
  core.handle({ type: 'blockValidated', height: 1, blockHash: hB, valid: true }) // prevote nil (locked)
  core.handle({ type: 'timeout', height: 1, round: 1, step: 'prevote' })
  core.handle({ type: 'timeout', height: 1, round: 1, step: 'precommit' })
  t.equal(core.status().round, 2)
  // Round 2 (proposer v3) re-proposes B with polRound 1; the POL arrives after the proposal.
  t.same(ownVotes(core.handle(msg(proposal(B, 2, 1, 3))), 0), [], 'waits for the proof-of-lock')
  core.handle(msg(vote('prevote', 1, 1, 1, hB)))
  core.handle(msg(vote('prevote', 2, 1, 1, hB)))
  t.same(ownVotes(core.handle(msg(vote('prevote', 3, 1, 1, hB))), 0), [`prevote:${short(hB)}`])
  // An older proof-of-lock does not unlock: a fresh core locked at round 2 ignores polRound 1.
})

t.test('a proof-of-lock older than the lock does not unlock', async t => {
  const { core } = lockedOnA()
  toNextRound(core, 0) // round 1
  toNextRound(core, 1) // round 2
  core.handle(msg(proposal(B, 2, 1, 3)))
  core.handle({ type: 'blockValidated', height: 1, blockHash: hB, valid: true })
  // +2/3 prevotes for B at round 1 would unlock (1 >= 0); show that the POL is what matters:
  // deliver only two of them: no prevote yet, then the propose timeout gives nil.
  core.handle(msg(vote('prevote', 1, 1, 1, hB)))
  core.handle(msg(vote('prevote', 2, 1, 1, hB)))
  t.same(ownVotes(core.handle({ type: 'timeout', height: 1, round: 2, step: 'propose' }), 0), ['prevote:nil'])
})

t.test('unsafeMutation no-locking: the same locked validator prevotes the new block', async t => {
  const { core } = lockedOnA({ unsafeMutation: 'no-locking' })
  toNextRound(core, 0)
  core.handle(msg(proposal(B, 1, null, 2)))
  t.same(ownVotes(core.handle({ type: 'blockValidated', height: 1, blockHash: hB, valid: true }), 0), [`prevote:${short(hB)}`])
})

t.test('commit: +2/3 precommits commit the block with a certificate that verifies', async t => {
  const { core } = lockedOnA()
  core.handle(msg(vote('precommit', 2, 1, 0, hA)))
  const e = core.handle(msg(vote('precommit', 1, 1, 0, hA)))
  const c = e.find(x => x.type === 'commit') as Extract<ConsensusEffect, { type: 'commit' }>
  t.ok(c, 'commit effect')
  t.equal(short(blockHash(c.block.header)), short(hA))
  t.same(c.commit.signatures.map(s => s.validatorIndex), [0, 1, 2], 'sorted by validator index')
  t.doesNotThrow(() => verifyCommit(c.commit, validators, CHAIN, verifier, { height: 1, blockHash: hA }))
  t.ok(core.status().decided)
  t.same(core.handle(msg(vote('precommit', 3, 1, 0, hA))).filter(x => x.type === 'commit'), [], 'commits once')
})

t.test('decision in an earlier round is taken from any round (line 49)', async t => {
  const { core } = prevotedA()
  toNextRound(core, 0)
  t.equal(core.status().round, 1)
  core.handle(msg(vote('precommit', 1, 1, 0, hA)))
  core.handle(msg(vote('precommit', 2, 1, 0, hA)))
  const e = core.handle(msg(vote('precommit', 3, 1, 0, hA)))
  t.ok(e.some(x => x.type === 'commit'))
})

t.test('round skip: f+1 power in a higher round moves us there; f does not', async t => {
  const core = makeCore(0)
  core.handle(newHeight(1))
  core.handle(msg(vote('prevote', 1, 1, 5, null)))
  t.equal(core.status().round, 0, 'one validator (f) is not enough')
  core.handle(msg(vote('precommit', 1, 1, 5, null)))
  t.equal(core.status().round, 0, 'the same validator twice is still f')
  core.handle(msg(vote('prevote', 2, 1, 5, null)))
  t.equal(core.status().round, 5)
})

t.test('commit certificate checking: a block whose lastCommit lacks +2/3 is invalid without asking the app', async t => {
  const prevCommit = makeCommit(A, 0, [0, 1, 2])
  const prev = { hash: hA, commit: prevCommit, stateRoot: A.header.stateRoot, time: A.header.time }
  const good = makeBlock(2, 2, 5, prev)
  const weak = makeBlock(2, 2, 6, { ...prev, commit: makeCommit(A, 0, [0, 1]) })
  const forged = makeBlock(2, 2, 7, { ...prev, commit: { ...makeCommit(A, 0, [0, 1, 2]), round: 1 } })
  for (const [name, block, expectValidate] of [['good', good, true], ['weak', weak, false], ['forged', forged, false]] as const) {
    const core = makeCore(0)
    core.handle(newHeight(2, { hash: hA, time: A.header.time, commit: prevCommit }))
    const e = core.handle(msg(proposal(block, 0, null, 2)))
    t.equal(e.some(x => x.type === 'validateBlock'), expectValidate, `${name}: validateBlock asked = ${expectValidate}`)
    if (!expectValidate) t.same(ownVotes(e, 0), ['prevote:nil'], `${name}: prevote nil`)
  }
  t.equal(GENESIS_STATE_ROOT.length, 32)
})

t.test('evidence: conflicting signed votes of one validator are emitted once, with both votes', async t => {
  const core = makeCore(0)
  core.handle(newHeight(1))
  core.handle(msg(vote('prevote', 2, 1, 0, hA)))
  const e = core.handle(msg(vote('prevote', 2, 1, 0, hB)))
  const ev = e.find(x => x.type === 'evidence') as Extract<ConsensusEffect, { type: 'evidence' }>
  t.ok(ev)
  t.equal(ev.evidence.voteA.validatorIndex, 2)
  t.same([short(ev.evidence.voteA.blockHash), short(ev.evidence.voteB.blockHash)], [short(hA), short(hB)])
  t.not(ev.evidence.voteA.signature, ev.evidence.voteB.signature)
  t.same(core.handle(msg(vote('prevote', 2, 1, 0, hB))).filter(x => x.type === 'evidence'), [], 'reported once')
  t.same(core.handle(msg(vote('precommit', 2, 1, 0, hA))).filter(x => x.type === 'evidence'), [], 'other type is not a conflict')
})

t.test('inputs are authenticated: bad signatures, wrong proposer, tampered block, bad index', async t => {
  const core = makeCore(0)
  core.handle(newHeight(1))
  const bad = vote('prevote', 2, 1, 0, hA)
  if (bad.type === 'vote') bad.vote.signature = new Uint8Array(32)
  t.match(core.handle(msg(bad)), [{ type: 'messageRejected', code: 'MSG_BAD_SIGNATURE' }])
  t.match(core.handle(msg(proposal(A, 0, null, 2))), [{ type: 'messageRejected', code: 'MSG_WRONG_PROPOSER' }])
  const p = proposal(A, 0, null, 1)
  const tampered = { ...p, block: { ...A, header: { ...A.header, time: A.header.time + 1 } } } as typeof p
  t.match(core.handle(msg(tampered)), [{ type: 'messageRejected', code: 'MSG_BLOCK_MISMATCH' }])
  const v = vote('prevote', 2, 1, 0, hA)
  if (v.type === 'vote') v.vote.validatorIndex = 9
  t.match(core.handle(msg(v)), [{ type: 'messageRejected', code: 'MSG_BAD_INDEX' }])
  t.match(core.handle(msg(vote('prevote', 1, 1, 500, null))), [{ type: 'messageRejected', code: 'MSG_ROUND_TOO_FAR' }])
})

t.test('bounded buffer: future heights buffered up to the limit and replayed; old heights dropped', async t => {
  const core = makeCore(0, { maxBufferedMessages: 2 })
  core.handle(newHeight(1))
  t.same(core.handle(msg(vote('prevote', 1, 2, 0, null))), [])
  t.same(core.handle(msg(vote('prevote', 2, 2, 0, null))), [])
  t.match(core.handle(msg(vote('prevote', 3, 2, 0, null))), [{ type: 'messageRejected', code: 'MSG_BUFFER_FULL' }])
  t.same(core.handle(msg(vote('prevote', 1, 9, 0, null))), [], 'too far ahead: dropped')
  t.equal(core.status().buffered, 2)
  const prevCommit = makeCommit(A, 0, [0, 1, 2])
  core.handle(newHeight(2, { hash: hA, time: A.header.time, commit: prevCommit }))
  t.equal(core.status().buffered, 0)
  // The two replayed prevotes for round 0 are counted: after our own nil prevote, +2/3 nil -> precommit nil.
  t.same(ownVotes(core.handle({ type: 'timeout', height: 2, round: 0, step: 'propose' }), 0), ['prevote:nil', 'precommit:nil'])
  t.same(core.handle(msg(vote('prevote', 3, 1, 0, null))), [], 'old height: dropped')
})

t.test('every signature is preceded by a persist of the same height/round/step', async t => {
  const core = makeCore(1)
  const all: ConsensusEffect[] = [...core.handle(newHeight(1)), ...core.handle({ type: 'blockBuilt', height: 1, round: 0, block: A })]
  all.push(...core.handle(msg(vote('prevote', 2, 1, 0, hA))), ...core.handle(msg(vote('prevote', 3, 1, 0, hA))))
  let persisted = ''
  let checked = 0
  for (const e of all) {
    if (e.type === 'persistSignState') persisted = `${e.state.height}/${e.state.round}/${e.state.step}/${short(e.state.blockHash)}`
    if (e.type === 'broadcast') {
      const m = e.message
      const key = m.type === 'vote' ? `${m.vote.height}/${m.vote.round}/${m.vote.type}/${short(m.vote.blockHash)}` : `${m.proposal.height}/${m.proposal.round}/propose/${short(m.proposal.blockHash)}`
      t.equal(key, persisted, `broadcast ${key} after its persist`)
      checked++
    }
  }
  t.equal(checked, 3)
})

t.test('restart: never signs a conflicting vote; resends the persisted one instead', async t => {
  const core = makeCore(0, { signState: { height: 1, round: 0, step: 'prevote', blockHash: hA, lockedRound: null, lockedHash: null } })
  core.handle(newHeight(1))
  core.handle(msg(proposal(A, 0, null, 1)))
  const invalid = core.handle({ type: 'blockValidated', height: 1, blockHash: hA, valid: false }) // would now prevote nil
  t.same(ownVotes(invalid, 0), [`prevote:${short(hA)}`], 'the same signed prevote, not a nil one')
  t.notOk(invalid.some(e => e.type === 'persistSignState'), 'nothing new to persist')
})

t.test('restart: refuses to go back in height/round/step when the earlier vote is unknown', async t => {
  const core = makeCore(0, { signState: { height: 1, round: 0, step: 'precommit', blockHash: null, lockedRound: null, lockedHash: null } })
  core.handle(newHeight(1))
  const e = core.handle({ type: 'timeout', height: 1, round: 0, step: 'propose' })
  t.match(e, [{ type: 'signRefused', code: 'SIGN_REGRESSION', step: 'prevote' }])
  t.same(ownVotes(e, 0), [])
  // With the prevote recorded in the sign state it is resent as it was.
  const core2 = makeCore(0, { signState: { height: 1, round: 0, step: 'precommit', blockHash: null, lockedRound: null, lockedHash: null, prevoteHash: hB } })
  core2.handle(newHeight(1))
  t.same(ownVotes(core2.handle({ type: 'timeout', height: 1, round: 0, step: 'propose' }), 0), [`prevote:${short(hB)}`])
})

t.test('restart: resumes at the persisted round with the persisted lock and re-proposes the locked block', async t => {
  const first = lockedOnA()
  const lock = first.core.lastLockProof()
  const state = first.core.lastSignState()
  t.ok(lock); t.ok(state)
  // Validator 0 is the proposer of height 1 round 3. Restart it mid-height from what it persisted.
  const core = makeCore(0, { signState: state, lockProof: lock })
  core.handle(newHeight(1))
  t.equal(core.status().round, 0); t.equal(core.status().lockedRound, 0); t.equal(core.status().validRound, 0)
  toNextRound(core, 0); toNextRound(core, 1)
  const e = toNextRound(core, 2) // enters round 3
  const p = e.find(x => x.type === 'broadcast' && x.message.type === 'proposal')
  t.match(p, { message: { proposal: { round: 3, polRound: 0, validatorIndex: 0 } } }, 're-proposes A with its proof-of-lock round')
  const relayed = e.filter(x => x.type === 'broadcast' && x.message.type === 'vote' && x.message.vote.round === 0)
  t.equal(relayed.length, 3, 'relays the 2f+1 prevotes of the proof-of-lock')
  // A restarted core locked on A still refuses B without a newer proof-of-lock.
  const again = makeCore(0, { signState: state, lockProof: lock })
  again.handle(newHeight(1))
  toNextRound(again, 0)
  again.handle(msg(proposal(B, 1, null, 2)))
  t.same(ownVotes(again.handle({ type: 'blockValidated', height: 1, blockHash: hB, valid: true }), 0), ['prevote:nil'])
})

t.test('weighted power: quorum is > 2/3 of power, not of count', async t => {
  const weighted = validators.map((v, i) => ({ ...v, power: i === 3 ? 4 : 1 })) // total 7, quorum 5
  const core = makeCore(0)
  core.handle({ ...newHeight(1), validators: weighted })
  core.handle({ type: 'timeout', height: 1, round: 0, step: 'propose' })
  core.handle(msg(vote('prevote', 1, 1, 0, null)))
  t.same(ownVotes(core.handle(msg(vote('prevote', 2, 1, 0, null))), 0), [], '3 of 7 power: no quorum')
  t.same(ownVotes(core.handle(msg(vote('prevote', 3, 1, 0, null))), 0), ['precommit:nil'], '7 of 7 power')
})
