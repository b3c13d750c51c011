import t from 'tap'
import { runSimulation } from '../../consensus/sim/simulation.js'

// The simulator must be able to fail: a core whose quorum is only half the power loses
// agreement, and the checkers must see it within a bounded number of seeds.
t.test('half-quorum core: the simulator finds an agreement violation', async t => {
  let found: { seed: number, detail: string, replay: string } | null = null
  for (let seed = 1; seed <= 150 && found === null; seed++) {
    const r = runSimulation({ seed, validators: 4, unsafeMutation: 'half-quorum', stopOnFirstViolation: ['agreement'], maxEvents: 100_000 })
    const v = r.violations.find(v => v.kind === 'agreement')
    if (v !== undefined) found = { seed, detail: v.detail, replay: r.replay }
  }
  t.ok(found, 'agreement violation found within 150 seeds')
  if (found !== null) {
    t.match(found.replay, /^npm run sim -- --seed \d+ --validators 4 --mutation half-quorum$/)
    t.comment(`found at seed ${found.seed}: ${found.detail}`)
  }
})

t.test('half-quorum commits carry too few signatures: the certificate checker fires', async t => {
  const r = runSimulation({ seed: 3, validators: 4, unsafeMutation: 'half-quorum' })
  t.ok(r.violations.some(v => v.kind === 'certificate' || v.kind === 'agreement'))
})
