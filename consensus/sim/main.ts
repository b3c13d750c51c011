import { Command } from 'commander'
import type { UnsafeMutation } from '../core.js'
import type { DriverMutation } from '../driver.js'
import { runSimulation } from './simulation.js'
import { runCampaign, describeFailure } from './campaign.js'

const program = new Command()
  .name('medchain-sim')
  .description('Deterministic simulation of the consensus core (seeded faults, virtual time)')
  .option('--seed <n>', 'run exactly this seed (prints its trace)')
  .option('--seeds <n>', 'number of seeds in the campaign', '100')
  .option('--start <n>', 'first seed of the campaign', '1')
  .option('--validators <list>', 'validator counts, comma separated (cycled)', '4,7,10')
  .option('--mutation <name>', 'deliberately unsafe core: no-locking | half-quorum')
  .option('--driver-mutation <name>', 'deliberately unsafe driver: send-before-persist')
  .option('--log', 'with --seed: print every effect')
  .option('--heights <n>', 'heights every honest replica must commit after the heal', '2')
  .parse()

const o = program.opts<{ seed?: string, seeds: string, start: string, validators: string, mutation?: string, driverMutation?: string, heights: string, log?: boolean }>()
const counts = o.validators.split(',').map(Number)
if (counts.some(n => !Number.isInteger(n) || n < 1 || n > 64)) { console.error(`bad --validators ${o.validators}`); process.exit(2) }
if (o.mutation !== undefined && o.mutation !== 'no-locking' && o.mutation !== 'half-quorum') { console.error(`bad --mutation ${o.mutation}`); process.exit(2) }
if (o.driverMutation !== undefined && o.driverMutation !== 'send-before-persist') { console.error(`bad --driver-mutation ${o.driverMutation}`); process.exit(2) }
const mutation = o.mutation as UnsafeMutation | undefined
const driverMutation = o.driverMutation as DriverMutation | undefined
const heightsAfterHeal = Number(o.heights)

if (o.seed !== undefined) {
  const r = runSimulation({ seed: Number(o.seed), validators: counts[0], unsafeMutation: mutation, driverMutation, heightsAfterHeal, stopOnFirstViolation: false, log: o.log === true ? (l: string) => console.log(l) : undefined })
  console.log(JSON.stringify({ ...r, violations: undefined }, null, 2))
  for (const v of r.violations) console.log(`VIOLATION ${v.kind} at ${v.atMs} ms: ${v.detail}`)
  console.log(r.violations.length === 0 ? `ok: seed ${r.seed} n=${r.validators} height ${r.minHonestHeight} trace ${r.traceHash}` : `FAILED: ${r.replay}`)
  process.exit(r.violations.length === 0 ? 0 : 1)
}

const total = Number(o.seeds)
const start = Number(o.start)
let last = 0
const t0 = performance.now()
const summary = runCampaign({
  startSeed: start, count: total, validators: counts, unsafeMutation: mutation, options: { heightsAfterHeal, driverMutation },
  onRun: (r, i) => {
    if (r.violations.length > 0) console.log(`\n${describeFailure(r)}`)
    const now = performance.now()
    if (process.stdout.isTTY === true) {
      if (now - last > 500 || i === total - 1) { last = now; process.stdout.write(`\r${i + 1}/${total} runs, seed ${r.seed}`) }
    } else if ((i + 1) % Math.max(1, Math.floor(total / 10)) === 0) {
      console.log(`${i + 1}/${total} runs, seed ${r.seed}, ${((now - t0) / 1000).toFixed(1)} s`)
    }
  }
})
console.log(`\nruns ${summary.runs}, heights committed ${summary.heightsCommitted}, violations ${summary.violations} (failed runs ${summary.failures.length}), evidence ${summary.evidence}, restarts ${summary.restarts}, messages ${summary.messages}, ${(summary.wallMs / 1000).toFixed(1)} s (${(summary.wallMs / Math.max(1, summary.runs)).toFixed(1)} ms/run)`)
for (const f of summary.failures.slice(0, 20)) console.log(describeFailure(f))
process.exit(summary.failures.length === 0 ? 0 : 1)
