import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t from 'tap'

// The CI smoke run of `medchain bench --quick`: it must produce a complete result file.
// No timing assertion: this machine's speed is what the benchmark measures, not what it asserts.

const root = resolve(import.meta.dirname, '../..')
const main = join(root, 'dist/cli/main.js')

/** Every number in the result, with its path, so one check covers every field. */
function numbers (value: unknown, path: string, out: Array<[string, number]>): Array<[string, number]> {
  if (typeof value === 'number') out.push([path, value])
  else if (Array.isArray(value)) value.forEach((v, i) => numbers(v, `${path}[${i}]`, out))
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) numbers(v, `${path}.${k}`, out)
  return out
}

t.test('medchain bench --quick writes a complete result file', { timeout: 180_000 }, async t => {
  const out = mkdtempSync(join(tmpdir(), 'medchain-bench-results-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const child = spawn(process.execPath, [main, 'bench', '--quick', '--no-progress', '--out', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  const code = await new Promise<number | null>(resolve => child.on('exit', c => resolve(c)))
  t.equal(code, 0, 'bench exits 0', { output })
  if (code !== 0) return

  const files = readdirSync(out)
  const json = files.filter(f => /^bench-.*\.json$/.test(f))
  t.equal(json.length, 1, 'one JSON result')
  t.equal(files.filter(f => /^bench-.*\.html$/.test(f)).length, 1, 'one HTML report')
  const r = JSON.parse(readFileSync(join(out, json[0]), 'utf8'))

  t.same(r.errors, {}, 'no scenario failed')
  for (const key of ['version', 'startedAt', 'finishedAt', 'machine', 'options', 'bounds', 'max', 'half', 'catchup']) t.ok(key in r, `result has ${key}`)
  for (const key of ['verifyPerSec', 'verifyUs', 'nobleVerifyPerSec', 'leveldb', 'cores']) t.ok(key in r.bounds, `bounds has ${key}`)
  for (const phase of [r.max, r.half]) {
    for (const key of ['txPerSec', 'txPerSecLoadWindow', 'peakTxPerSec', 'latencyMs', 'latencyCdf', 'timeline', 'perValidator', 'cpuUsPerTxMean', 'diskBytesPerTx', 'rawTxBytes', 'blocks', 'roundsPerHeight', 'committed']) {
      t.ok(key in phase, `${phase.name} has ${key}`)
    }
    t.equal(phase.perValidator.length, 4, `${phase.name}: figures for 4 validators`)
    for (const v of phase.perValidator) for (const key of ['cpuSeconds', 'cpuUsPerTx', 'rssBytes', 'peakRssBytes', 'diskBytes']) t.ok(key in v, `${phase.name} ${v.name} has ${key}`)
    t.ok(phase.timeline.length > 0, `${phase.name}: a throughput timeline`)
    t.ok(phase.latencyCdf.length > 0, `${phase.name}: a latency CDF`)
  }
  for (const key of ['txsWhileDown', 'blocksBehind', 'syncS', 'txPerSec', 'blocksPerSec']) t.ok(key in r.catchup, `catchup has ${key}`)

  const bad = numbers(r, 'result', []).filter(([, n]) => !Number.isFinite(n))
  t.same(bad, [], 'every number is finite')
  t.ok(r.max.committed > 0, 'the max phase committed transactions')
  t.ok(r.half.committed > 0, 'the half phase committed transactions')
  t.ok(r.catchup.txsWhileDown > 0, 'transactions committed while a validator was down')
  t.ok(r.bounds.verifyPerSec > 0 && r.bounds.leveldb.entriesPerSec > 0, 'bounds measured')
  t.match(output, /committed tx\/s/, 'the terminal table is printed')
})
