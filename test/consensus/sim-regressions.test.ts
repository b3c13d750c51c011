import t from 'tap'
import { runSimulation } from '../../consensus/sim/simulation.js'

// Seeds a wider campaign (not the sim-*.test.ts ranges) found stalled: one silent byzantine
// validator, loss, partitions and crashes; afterwards the honest replicas sat in round 0
// prevote/precommit and round 1 prevote forever, because votes signed before a crash were
// never sent again (the core only rebroadcast what the running process had signed, and the
// simulator's copy of the driver had no WAL to bring them back).
for (const seed of [778175, 779095]) {
  t.test(`seed ${seed} n=4: every honest replica commits after the heal`, async t => {
    const r = runSimulation({ seed, validators: 4 })
    t.same(r.violations, [], r.replay)
    t.ok(r.minHonestHeight >= 2, `min honest height ${r.minHonestHeight}`)
    // Still the scenario that stalled: a silent byzantine replica and crashed honest ones.
    t.same(r.config.byzantine, ['silent'])
    t.ok(r.restarts > 0, `${r.restarts} restarts`)
  })
}
