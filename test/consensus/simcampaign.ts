// Shared by the sim-*.test.ts files (not itself a test file: tap only picks up *.test.ts).
import type { Test } from 'tap'
import { runCampaign, describeFailure } from '../../consensus/sim/campaign.js'
import { BYZANTINE_KINDS, type SimResult } from '../../consensus/sim/simulation.js'

/** Runs `count` seeds over n in {4, 7, 10}; fails with each failing seed's replay command. */
export function campaignTest (t: Test, startSeed: number, count: number): SimResult[] {
  const results: SimResult[] = []
  const summary = runCampaign({ startSeed, count, validators: [4, 7, 10], onRun: r => results.push(r) })
  t.equal(summary.runs, count, 'all runs executed')
  t.equal(summary.failures.length, 0, summary.failures.length === 0
    ? `${count} runs, no violation (${summary.heightsCommitted} heights, ${(summary.wallMs / count).toFixed(0)} ms/run)`
    : summary.failures.slice(0, 5).map(describeFailure).join('\n'))
  // Swarm coverage: every fault class must actually have been exercised in this batch.
  const cfgs = results.map(r => r.config)
  const classes: Record<string, boolean> = {
    loss: cfgs.some(c => c.lossP > 0),
    duplication: cfgs.some(c => c.dupP > 0),
    reordering: cfgs.some(c => c.maxDelayMs > c.minDelayMs),
    partitions: cfgs.some(c => c.partitionEveryMs > 0),
    crashes: results.some(r => r.restarts > 0),
    drift: cfgs.some(c => c.drift > 0)
  }
  for (const k of BYZANTINE_KINDS) classes[`byzantine ${k}`] = cfgs.some(c => c.byzantine.includes(k))
  for (const [name, seen] of Object.entries(classes)) t.ok(seen, `fault class exercised: ${name}`)
  for (const n of [4, 7, 10]) t.ok(results.some(r => r.validators === n && r.minHonestHeight > 0), `n=${n} committed heights`)
  t.ok(results.some(r => r.evidence > 0), 'equivocation evidence was emitted')
  return results
}
