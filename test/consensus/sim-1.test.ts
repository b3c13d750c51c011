import t from 'tap'
import { runSimulation } from '../../consensus/sim/simulation.js'
import { campaignTest } from './simcampaign.js'

t.test('500 seeded runs (seeds 1..500), every fault class', async t => {
  const results = campaignTest(t, 1, 500)
  // Determinism: the same seed replays to the same trace.
  for (const r of results.filter(r => r.seed % 100 === 7)) {
    const again = runSimulation({ seed: r.seed, validators: r.validators })
    t.equal(again.traceHash, r.traceHash, `seed ${r.seed} replays to trace ${r.traceHash}`)
    t.equal(again.events, r.events)
  }
  t.not(results[0].traceHash, results[1].traceHash, 'different seeds give different traces')
})
