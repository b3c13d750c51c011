import t from 'tap'
import { executeBlock } from '../../ledger/index.js'
import { world } from './harness.js'
import { registerPatients, mixedBlock } from './workload.js'

t.test('executeBlock throughput, 2,000 mixed txs', async t => {
  const c = world()
  c.verifySignatures = false // measured: execution only; signatures are verified before, once per node
  registerPatients(c, 200)
  c.block(mixedBlock(c, 200, 10, 0), 1000) // warm-up block: grants exist for the measured ones
  const runs: number[] = []
  for (let round = 1; round <= 2; round++) {
    const txs = mixedBlock(c, 200, 10, round)
    t.equal(txs.length, 2000)
    const ctx = { height: c.height + 1, time: c.time + 1000, proposer: c.key('alpha') }
    const start = process.hrtime.bigint()
    const exec = executeBlock(c.state, ctx, txs)
    const execMs = Number(process.hrtime.bigint() - start) / 1e6
    const s2 = process.hrtime.bigint()
    c.state.apply(exec)
    const applyMs = Number(process.hrtime.bigint() - s2) / 1e6
    c.height++; c.time += 1000
    const ok = exec.results.filter(r => r.code === 'OK').length
    runs.push(2000 / (execMs / 1000))
    t.comment(`round ${round}: executeBlock ${execMs.toFixed(1)} ms (${Math.round(2000 / (execMs / 1000))} tx/s), apply ${applyMs.toFixed(1)} ms, ${ok} OK, ${exec.writes.length} writes, ${exec.appends.length} appends`)
    t.ok(ok > 1000, 'most txs succeed')
  }
  const best = Math.max(...runs)
  console.log(`ledger executeBlock: best ${Math.round(best)} tx/s over 2,000 mixed txs`)
  // A figure, not an assertion: wall-clock rates belong in bench/, never in a pass/fail unit test.
  t.ok(Number.isFinite(best) && best > 0, `measured ${Math.round(best)} tx/s`)
})
