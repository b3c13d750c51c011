import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Command } from 'commander'
import { stopAllClusters } from '../../bench/cluster.js'
import { formatCompare, formatHtml, formatTable } from '../../bench/report.js'
import { runBench, SCENARIOS, type BenchResult, type Scenario } from '../../bench/run.js'

interface BenchFlags {
  scenario: string
  quick?: boolean
  validators?: number
  duration?: number
  rate?: number
  patients?: number
  providers?: number
  concurrency: number
  catchupTxs?: number
  memoryTxs?: number
  scaleSizes?: string
  profile?: number | boolean
  out: string
  workDir?: string
  keep?: boolean
  progress: boolean
  compare?: string[]
}

const int = (v: string): number => parseInt(v, 10)

export function benchCommand (): Command {
  return new Command('bench')
    .description('load benchmark: starts a local consortium, drives a consent/access workload, measures against this machine\'s bounds')
    .option('--scenario <list>', `comma-separated: ${SCENARIOS.join(',')} or all (memory excluded from all)`, 'all')
    .option('--quick', 'CI smoke run: 4 validators, short durations, max+half+catchup (under 2 minutes)')
    .option('--validators <n>', 'validators for max/half/catchup/memory (default 4)', int)
    .option('--duration <s>', 'seconds of load in the max scenario (default 60; quick 10)', int)
    .option('--rate <tx/s>', 'offered rate of the half scenario when max is not run', int)
    .option('--patients <n>', 'patients registered in setup (default 2000; quick 300)', int)
    .option('--providers <n>', 'providers registered in setup (default 200; quick 40)', int)
    .option('--concurrency <n>', 'HTTP requests in flight at most', int, 256)
    .option('--catchup-txs <n>', 'transactions committed while one validator is down (default 100000; quick 3000)', int)
    .option('--memory-txs <n>', 'transactions of the memory scenario (default 1000000)', int)
    .option('--scale-sizes <list>', 'validator counts of the scale scenario', '1,4,7,16')
    .option('--profile [validator]', 'run this validator (default 1) under node --cpu-prof in the max scenario and report the top self-time functions')
    .option('--out <dir>', 'results folder', 'bench/results')
    .option('--work-dir <dir>', 'where node homes go (default: a fresh temp folder, removed afterwards)')
    .option('--keep', 'keep node homes and logs')
    .option('--no-progress', 'no progress bar')
    .option('--compare <files...>', 'print the ratios between two result files (A.json B.json) and exit')
    .action(async (f: BenchFlags) => {
      if (f.compare !== undefined) {
        if (f.compare.length !== 2) throw new Error('--compare takes two result files: A.json B.json')
        const [a, b] = f.compare.map(p => JSON.parse(readFileSync(p, 'utf8')) as BenchResult)
        console.log(formatCompare(a, b, 'A', 'B'))
        console.log(`A = ${f.compare[0]}\nB = ${f.compare[1]}`)
        return
      }
      const quick = f.quick === true
      const scenarios: Scenario[] = f.scenario === 'all'
        ? (quick ? ['max', 'half', 'catchup'] : ['max', 'half', 'catchup', 'scale'])
        : f.scenario.split(',').map(s => s.trim()).map(s => {
          if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}; one of ${SCENARIOS.join(', ')}`)
          return s as Scenario
        })
      const profileValidator = f.profile === undefined ? null : f.profile === true ? 1 : Number(f.profile)
      const onSignal = (): void => {
        console.error('\ninterrupted: stopping every validator the benchmark started')
        void stopAllClusters().finally(() => process.exit(130))
      }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      const duration = f.duration ?? (quick ? 10 : 60)
      const result = await runBench({
        scenarios,
        quick,
        validators: f.validators ?? 4,
        durationS: duration,
        rate: f.rate ?? null,
        patients: f.patients ?? (quick ? 300 : 2000),
        providers: f.providers ?? (quick ? 40 : 200),
        concurrency: f.concurrency,
        maxBacklog: 20_000,
        catchupTxs: f.catchupTxs ?? (quick ? 3000 : 100_000),
        memoryTxs: f.memoryTxs ?? 1_000_000,
        scaleSizes: (f.scaleSizes ?? '1,4,7,16').split(',').map(int),
        scaleDurationS: quick ? 8 : 20,
        profileValidator,
        progress: f.progress,
        workDir: f.workDir === undefined ? null : resolve(f.workDir),
        keep: f.keep === true,
        log: line => console.error(line)
      })
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      const out = resolve(f.out)
      mkdirSync(out, { recursive: true })
      const stamp = result.startedAt.replace(/[:.]/g, '-')
      const jsonPath = join(out, `bench-${stamp}.json`)
      const htmlPath = join(out, `bench-${stamp}.html`)
      writeFileSync(jsonPath, JSON.stringify(result, null, 2) + '\n')
      writeFileSync(htmlPath, formatHtml(result))
      console.log(formatTable(result))
      console.log(`\nresult: ${jsonPath}\nreport: ${htmlPath}`)
    })
}
