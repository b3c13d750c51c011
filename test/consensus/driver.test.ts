import t from 'tap'
import {
  ConsensusCore, ConsensusDriver, blockHash, type Block, type ConsensusMessage, type DriverPorts, type SignState, type WalEntry
} from '../../consensus/index.js'
import { buildSimBlock, simTx, GENESIS_STATE_ROOT } from '../../consensus/sim/app.js'
import { CHAIN, signers, validators, verifier, timeouts, proposal, vote } from './harness.js'

// The driver the node runs, over in-memory ports that answer synchronously (as the simulator's
// do): a "process" is a core plus a driver; its disk (sign state, WAL) outlives it.

interface Disk { signState: SignState | null, wal: Array<{ height: number, entry: WalEntry }> }

function boot (index: number, disk: Disk, sent: ConsensusMessage[], refused: string[], trace: string[] = []): { driver: ConsensusDriver<{ hash: Uint8Array }>, core: ConsensusCore, timers: Map<number, () => void> } {
  let lockProof = null
  const replay: ConsensusMessage[] = []
  for (const w of disk.wal) if (w.height === 1) { if (w.entry.kind === 'message') replay.push(w.entry.message); else lockProof = w.entry.lock }
  const core = new ConsensusCore({ chainId: CHAIN, signer: signers[index], verifier, timeouts, signState: disk.signState, lockProof })
  const timers = new Map<number, () => void>()
  let ids = 0
  const noop = (): void => {}
  const ports: DriverPorts<{ hash: Uint8Array }> = {
    now: () => 1_000,
    setTimer: fn => { timers.set(++ids, fn); return ids },
    clearTimer: id => { timers.delete(id as number) },
    saveSignState: st => { trace.push(`persist ${st.step}`); disk.signState = st },
    walAppend: (height, entry) => { disk.wal.push({ height, entry }) },
    walPrune: below => { disk.wal = disk.wal.filter(w => w.height >= below) },
    broadcast: m => { trace.push(`send ${m.type === 'vote' ? m.vote.type : 'proposal'}`); sent.push(m) },
    app: {
      pendingTxs: () => 1,
      buildBlock: p => buildSimBlock({ ...p, chainId: CHAIN, prevStateRoot: GENESIS_STATE_ROOT, txs: [simTx(index, p.height, 0, 0, sent.length)] }),
      validateBlock: () => null,
      commitBlock: () => { throw new Error('not reached') }
    },
    head: () => ({ height: 0, hash: new Uint8Array(32), time: 0 }),
    onCommitted: noop,
    log: { debug: noop, warn: noop, error: noop },
    metrics: { roundStep: noop, proposal: noop, timeout: noop, evidence: noop, dropped: noop, committed: noop, signRefused: code => { refused.push(code) } }
  }
  const driver = new ConsensusDriver(core, ports, { validators, timing: { commitMs: 0, createEmptyBlocksMs: 0, maxFutureBlockMs: 10_000, rebroadcastMs: 500, proposeMs: timeouts.proposeMs } })
  driver.start(null, replay)
  return { driver, core, timers }
}

const proposals = (ms: ConsensusMessage[]): Array<Extract<ConsensusMessage, { type: 'proposal' }>> => ms.flatMap(m => m.type === 'proposal' ? [m] : [])

t.test('persist before send: the sign state is on disk before the message it covers is broadcast', async t => {
  const disk: Disk = { signState: null, wal: [] }
  const trace: string[] = []
  boot(1, disk, [], [], trace) // v1 proposes at 1/0 on start
  t.same(trace, ['persist propose', 'send proposal', 'persist prevote', 'send prevote'])
  t.same(disk.wal.map(w => w.entry.kind), ['message', 'message'], 'own proposal and prevote are in the WAL')
})

t.test('proposer restarted after proposing, WAL tail torn: no SIGN_REGRESSION, the same proposal goes out again', async t => {
  const disk: Disk = { signState: null, wal: [] }
  const sent: ConsensusMessage[] = []
  const refused: string[] = []
  boot(1, disk, sent, refused)
  const first = proposals(sent)[0]
  t.ok(first, 'proposed before the crash')
  // Crash: the WAL lost its records (a torn tail), the synced sign state survived.
  disk.wal = []
  const after: ConsensusMessage[] = []
  const second = boot(1, disk, after, refused)
  t.same(proposals(after), [], 'nothing new proposed: the block is not at hand yet')
  // A peer relays the round's proposal (peers rebroadcast it); then it is ours to rebroadcast.
  second.driver.receive(first)
  second.driver.rebroadcast()
  t.same(proposals(after), [first], 'the proposal signed before the crash, identical')
  t.same(refused, [], 'no SIGN_REGRESSION')
  t.equal(disk.signState?.step, 'prevote', 'the sign state did not move')
})

t.test('restart replays the WAL: votes signed before the crash are sent again', async t => {
  const disk: Disk = { signState: null, wal: [] }
  const sent: ConsensusMessage[] = []
  const A: Block = buildSimBlock({ chainId: CHAIN, height: 1, time: 5, proposer: signers[1].publicKey, prevHash: new Uint8Array(32), lastCommit: null, lastCommitHash: new Uint8Array(32), prevStateRoot: GENESIS_STATE_ROOT, txs: [] })
  const { driver } = boot(0, disk, sent, [])
  driver.receive(proposal(A, 0, null, 1))
  driver.receive(vote('prevote', 1, 1, 0, blockHash(A.header)))
  t.ok(sent.some(m => m.type === 'vote' && m.vote.validatorIndex === 0 && m.vote.type === 'prevote'), 'prevoted A')
  const after: ConsensusMessage[] = []
  const again = boot(0, disk, after, [])
  again.driver.rebroadcast()
  t.ok(after.some(m => m.type === 'vote' && m.vote.validatorIndex === 0 && m.vote.type === 'prevote'), 'the prevote is re-sent after the restart')
})
