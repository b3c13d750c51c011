// executeBlock over a large mixed block (2,000 txs): every tx gets a result in order,
// execution is a pure function of (state, context, txs) until apply, and the results are
// what the workload implies. The execution rate is printed as a figure, never asserted:
// wall-clock rates belong in bench/ (`medchain bench`), not in a pass/fail test.
import t from 'tap'
import { toHex } from '../../codec/index.js'
import { executeBlock } from '../../ledger/index.js'
import { world } from './harness.js'
import { registerPatients, mixedBlock } from './workload.js'

t.test('executeBlock over 2,000 mixed txs: pure until apply, one result per tx, results as the workload implies', async t => {
  const c = world()
  c.verifySignatures = false // execution only; signatures are verified before, once per node
  registerPatients(c, 200)
  c.block(mixedBlock(c, 200, 10, 0), 1000) // warm-up block: grants exist for the later ones
  for (let round = 1; round <= 2; round++) {
    const txs = mixedBlock(c, 200, 10, round)
    t.equal(txs.length, 2000)
    const ctx = { height: c.height + 1, time: c.time + 1000, proposer: c.key('alpha') }
    const rootBefore = toHex(c.state.stateRoot)
    const start = process.hrtime.bigint()
    const exec = executeBlock(c.state, ctx, txs)
    const execMs = Number(process.hrtime.bigint() - start) / 1e6
    t.equal(exec.results.length, txs.length, 'one result per tx')
    t.equal(toHex(c.state.stateRoot), rootBefore, 'executing does not touch the state')
    const again = executeBlock(c.state, ctx, txs)
    t.same(again.results.map(r => r.code), exec.results.map(r => r.code), 'a second execution gives the same results')
    t.equal(toHex(again.stateRoot), toHex(exec.stateRoot), 'and the same state root')

    const codesOf = (kind: string): string[] => [...new Set(exec.results.filter((_, i) => txs[i].tx.kind === kind).map(r => r.code))].sort()
    // patient.register for a registered patient consumes the nonce and fails; grants from a registered patient succeed.
    t.same(codesOf('patient.register'), ['PATIENT_EXISTS'], 're-registering fails')
    t.same(codesOf('consent.grant'), ['OK'], 'every grant succeeds')
    t.same(codesOf('access.break_glass'), ['OK'], 'every break-glass by the emergency physician succeeds')
    const ok = exec.results.filter(r => r.code === 'OK').length
    t.ok(ok > 1000 && ok < txs.length, `${ok} of ${txs.length} OK`)

    c.state.apply(exec)
    c.height++; c.time += 1000
    t.equal(toHex(c.state.stateRoot), toHex(exec.stateRoot), 'apply moves the state to the executed root')
    t.not(toHex(c.state.stateRoot), rootBefore, 'the block changed the state')
    t.comment(`round ${round}: executeBlock ${execMs.toFixed(1)} ms for ${txs.length} txs (${Math.round(txs.length / (execMs / 1000))} tx/s; a figure, not asserted), ${ok} OK, ${exec.writes.length} writes, ${exec.appends.length} appends`)
  }
})
