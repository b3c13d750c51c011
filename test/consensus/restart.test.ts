import t from 'tap'
import { blockHash, type ConsensusEffect, type ConsensusMessage, type SignState } from '../../consensus/index.js'
import { makeCore, newHeight, makeBlock, proposal, vote, msg, ownVotes, short } from './harness.js'

// A validator restarted within a height: what it signed before the crash comes back from its WAL
// (own messages are written there before they are sent) or from a peer, and from its sign state.

const A = makeBlock(1, 1, 1) // v1 proposes at height 1 round 0
const hA = blockHash(A.header)

function persisted (effects: ConsensusEffect[]): SignState[] {
  return effects.flatMap(e => e.type === 'persistSignState' ? [e.state] : [])
}

function broadcasts (effects: ConsensusEffect[]): ConsensusMessage[] {
  return effects.flatMap(e => e.type === 'broadcast' ? [e.message] : [])
}

t.test('proposer restarted after proposing: re-sends the proposal it signed, never builds another (no SIGN_REGRESSION)', async t => {
  // Before the crash: v1 proposes A at 1/0 and prevotes it; the sign state carries the proposal.
  const before = makeCore(1)
  before.handle(newHeight(1))
  const signed = before.handle({ type: 'blockBuilt', height: 1, round: 0, block: A })
  const states = persisted(signed)
  t.match(states.map(s => s.step), ['propose', 'prevote'])
  t.same(short(states[1].proposalHash ?? null), short(hA), 'the prevote sign state still records the proposal of the round')
  t.equal(states[1].proposalPolRound, null)
  const sentProposal = broadcasts(signed).find(m => m.type === 'proposal')!

  // After the crash the WAL lost the proposal (torn tail). The restarted core must not build.
  const after = makeCore(1, { signState: states[1] })
  const start = after.handle(newHeight(1))
  t.notOk(start.some(e => e.type === 'buildBlock'), 'no new block is built for a round already proposed in')
  // A block built anyway (e.g. requested before) is ignored, never refused as a regression.
  const late = after.handle({ type: 'blockBuilt', height: 1, round: 0, block: makeBlock(1, 1, 9) })
  t.notOk(late.some(e => e.type === 'signRefused'), 'no SIGN_REGRESSION')
  // A peer relays our proposal back (peers rebroadcast the round's proposal): it is ours again.
  after.handle(msg(sentProposal))
  const again = after.handle({ type: 'rebroadcast' })
  const resent = broadcasts(again).filter(m => m.type === 'proposal')
  t.equal(resent.length, 1, 'the proposal is rebroadcast')
  t.same(resent[0], sentProposal, 'byte-for-byte the proposal signed before the crash')
  t.same(persisted(again), [], 'nothing new is signed')
})

t.test('proposer restarted with its lock proof: re-proposes the locked block at once with the same polRound', async t => {
  // v2 proposes at 1/1. Locked on A at round 0 (it prevoted, saw +2/3 prevotes, precommitted).
  const core = makeCore(2)
  core.handle(newHeight(1))
  core.handle(msg(proposal(A, 0, null, 1)))
  core.handle({ type: 'blockValidated', height: 1, blockHash: hA, valid: true })
  core.handle(msg(vote('prevote', 0, 1, 0, hA)))
  const locked = core.handle(msg(vote('prevote', 1, 1, 0, hA)))
  const lock = locked.find(e => e.type === 'persistLock')
  t.ok(lock, 'locked on A')
  core.handle({ type: 'timeout', height: 1, round: 0, step: 'precommit' })
  t.equal(core.status().round, 1)
  const states = core.lastSignState()!
  t.equal(states.step, 'prevote', 'proposed then prevoted at round 1')
  t.same(short(states.proposalHash ?? null), short(hA))
  t.equal(states.proposalPolRound, 0)

  const restarted = makeCore(2, { signState: states, lockProof: lock!.type === 'persistLock' ? lock!.lock : null })
  const start = restarted.handle(newHeight(1))
  const p = broadcasts(start).find(m => m.type === 'proposal')
  t.ok(p, 're-proposed on start')
  t.match(p, { proposal: { height: 1, round: 1, polRound: 0, validatorIndex: 2 } })
  t.same(short(p!.type === 'proposal' ? p!.proposal.blockHash : null), short(hA))
  t.notOk(start.some(e => e.type === 'signRefused' || e.type === 'buildBlock'))
  t.same(persisted(start), [], 'a re-sent proposal is not a new signature')
})

t.test('votes signed before a crash and replayed from the WAL are rebroadcast', async t => {
  // v3 prevoted and precommitted nil at round 0, then moved to round 1 and prevoted nil there.
  const before = makeCore(3)
  before.handle(newHeight(1))
  const sent: ConsensusMessage[] = []
  for (const step of ['propose', 'prevote'] as const) sent.push(...broadcasts(before.handle({ type: 'timeout', height: 1, round: 0, step })))
  before.handle(msg(vote('precommit', 0, 1, 0, null)))
  before.handle(msg(vote('precommit', 1, 1, 0, null)))
  sent.push(...broadcasts(before.handle({ type: 'timeout', height: 1, round: 0, step: 'precommit' })))
  sent.push(...broadcasts(before.handle({ type: 'timeout', height: 1, round: 1, step: 'propose' })))
  t.same(ownVotes(sent.map(message => ({ type: 'broadcast' as const, message })), 3), ['prevote:nil', 'precommit:nil', 'prevote:nil'])

  const restarted = makeCore(3, { signState: before.lastSignState() })
  restarted.handle(newHeight(1))
  t.equal(restarted.status().round, 1, 'resumes at the persisted round')
  for (const m of sent) restarted.handle(msg(m)) // the driver replays the WAL
  const re = restarted.handle({ type: 'rebroadcast' })
  const votes = broadcasts(re).flatMap(m => m.type === 'vote' && m.vote.validatorIndex === 3 ? [`${m.vote.round}:${m.vote.type}`] : [])
  t.same(votes.sort(), ['0:precommit', '0:prevote', '1:prevote'], 'round-0 votes peers may still be waiting for are sent again')
  // Before, only votes signed by the running process were rebroadcast: peers that lost these
  // round-0 votes in the crash could wait for them forever.
})
