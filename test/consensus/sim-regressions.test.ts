import t from 'tap'
import { runSimulation } from '../../consensus/sim/simulation.js'

// Seeds a wider campaign (not the sim-*.test.ts ranges) found stalled: one silent byzantine
// validator, loss, partitions and crashes; afterwards the honest replicas sat in round 0
// prevote/precommit and round 1 prevote forever. Cause: the simulator restarted a crashed replica
// through its own copy of the driver, which had no WAL, so the replica forgot every vote of the
// height (its own and those it had received), which the node's driver replays from its WAL; the
// votes the others still needed were never sent again. The simulator now hosts the node's driver
// over a simulated disk (WAL with torn tails), and these seeds commit.
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
