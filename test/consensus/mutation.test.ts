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

// The simulator runs the node's driver (consensus/driver.ts): break persist-before-send there
// (each sign-state write moved behind the broadcast after it) and a crash between the two
// releases a signature the restarted replica does not know about; it then signs another.
t.test('send-before-persist driver: the simulator finds a double sign within 300 seeds', async t => {
  let found: { seed: number, kind: string, detail: string, replay: string } | null = null
  for (let seed = 1; seed <= 300 && found === null; seed++) {
    const r = runSimulation({ seed, validators: 4, driverMutation: 'send-before-persist', stopOnFirstViolation: ['double-sign', 'sign-state-regression', 'agreement'], maxEvents: 100_000 })
    const v = r.violations.find(v => v.kind === 'double-sign' || v.kind === 'sign-state-regression' || v.kind === 'agreement')
    if (v !== undefined) found = { seed, kind: v.kind, detail: v.detail, replay: r.replay }
  }
  t.ok(found, 'safety violation found within 300 seeds')
  if (found !== null) {
    t.match(found.replay, /--driver-mutation send-before-persist$/)
    t.comment(`found at seed ${found.seed}: ${found.kind}: ${found.detail}`)
  }
})

t.test('the same seeds with the real driver order: no violation', async t => {
  const violated: string[] = []
  for (let seed = 1; seed <= 80; seed++) {
    const r = runSimulation({ seed, validators: 4 })
    if (r.violations.length > 0) violated.push(`${r.replay}: ${r.violations[0].kind} ${r.violations[0].detail}`)
  }
  t.same(violated, [], '80 seeds, no violation')
})
