import type { UnsafeMutation } from '../core.js'
import { runSimulation, type SimResult, type SimOptions } from './simulation.js'

export interface CampaignSummary {
  runs: number
  heightsCommitted: number
  violations: number
  failures: SimResult[]
  evidence: number
  restarts: number
  messages: number
  wallMs: number
}

/** Runs seeds [startSeed, startSeed + count) cycling over the validator counts; collects failures. */
export function runCampaign (args: {
  startSeed: number, count: number, validators: readonly number[], unsafeMutation?: UnsafeMutation,
  options?: Partial<SimOptions>, onRun?: (r: SimResult, i: number) => void
}): CampaignSummary {
  const t0 = performance.now()
  const sum: CampaignSummary = { runs: 0, heightsCommitted: 0, violations: 0, failures: [], evidence: 0, restarts: 0, messages: 0, wallMs: 0 }
  for (let i = 0; i < args.count; i++) {
    const seed = args.startSeed + i
    const n = args.validators[seed % args.validators.length]
    const r = runSimulation({ ...args.options, seed, validators: n, unsafeMutation: args.unsafeMutation })
    sum.runs++
    sum.heightsCommitted += r.minHonestHeight
    sum.evidence += r.evidence
    sum.restarts += r.restarts
    sum.messages += r.messages
    if (r.violations.length > 0) { sum.violations += r.violations.length; sum.failures.push(r) }
    args.onRun?.(r, i)
  }
  sum.wallMs = performance.now() - t0
  return sum
}

export function describeFailure (r: SimResult): string {
  const v = r.violations[0]
  return `seed ${r.seed} n=${r.validators}: ${v.kind} at ${v.atMs} ms: ${v.detail}\n  replay: ${r.replay}`
}
