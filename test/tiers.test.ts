// The test tiers of package.json (test:unit, test:sim, test:e2e) split the files `npm test`
// runs: every test file is in exactly one tier, so a new file cannot fall between them.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
const TIERS = ['test:unit', 'test:sim', 'test:e2e']

/** The files `tap` would run with the arguments a script gives it (through the shell, as npm runs it). */
function listed (tapArgs: string): string[] {
  // Without the TAP_* settings of the tap run this file is in (e.g. test:unit's excludes).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^_?TAP/i.test(k)))
  const r = spawnSync('sh', ['-c', `npx tap list ${tapArgs}`], { cwd: ROOT, encoding: 'utf8', env })
  if (r.status !== 0) throw new Error(`tap list ${tapArgs} failed: ${r.stderr}`)
  return r.stdout.split('\n').map(l => l.trim()).filter(l => l.length > 0).sort()
}

t.test('every test file is in exactly one tier', async t => {
  t.equal(scripts.test, 'tap', 'npm test still runs every file')
  const all = listed('')
  t.ok(all.length >= 30, `${all.length} test files in all`)
  const seen = new Map<string, string[]>()
  for (const tier of TIERS) {
    const m = /(?:^|&&\s*)tap(\s.*)?$/.exec(scripts[tier] ?? '')
    if (m === null) { t.fail(`${tier} runs tap`); continue }
    const files = listed(m[1] ?? '')
    t.ok(files.length > 0, `${tier}: ${files.length} files`)
    for (const f of files) seen.set(f, [...(seen.get(f) ?? []), tier])
  }
  t.same(all.filter(f => seen.get(f) === undefined), [], 'no file outside every tier')
  t.same([...seen].filter(([, tiers]) => tiers.length > 1).map(([f, tiers]) => `${f}: ${tiers.join(', ')}`), [], 'no file in two tiers')
  t.same([...seen.keys()].filter(f => !all.includes(f)), [], 'no tier runs a file npm test does not')
  t.ok(seen.get('test/consensus/sim-1.test.ts')?.includes('test:sim'), 'simulator campaigns are in test:sim')
  t.ok(seen.get('test/ops/prometheus.test.ts')?.includes('test:e2e'), 'the real-Prometheus test is in test:e2e')
})
