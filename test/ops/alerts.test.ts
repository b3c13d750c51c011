// The alert rules at every supported scrape interval, with Prometheus' own rule engine
// (`promtool test rules`): each alert fires on its fault and none fires on a healthy node.
// The test files are generated from deploy/medchain-alerts.yml (test/ops/alertrules.ts).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { ALERTS_FILE } from './promql.js'
import { FAULTS, SUPPORTED_INTERVALS_S, durationSeconds, longestRangeSeconds, maxDelayS, parseAlertRules, promtoolGroups, promtoolTestFile, withoutAnnotations } from './alertrules.js'
import { ROOT } from './harness.js'

const PROMTOOL = existsSync('/usr/bin/promtool') ? '/usr/bin/promtool' : 'promtool'
const havePromtool = spawnSync(PROMTOOL, ['--version']).status === 0

const rulesText = readFileSync(ALERTS_FILE, 'utf8')
const rules = parseAlertRules(rulesText)

t.test('the rules file parses into every alert it declares', async t => {
  const names = [...rulesText.matchAll(/^\s*- alert:\s*(\S+)/gm)].map(m => m[1])
  t.same(rules.map(r => r.name), names)
  t.ok(rules.length >= 6, `${rules.length} alerts`)
  for (const r of rules) t.ok(r.labels.severity !== undefined, `${r.name} has a severity`)
  t.same(Object.keys(FAULTS).sort(), [...names].sort(), 'every alert has a fault scenario, and no scenario is for an alert that is gone')
  t.throws(() => promtoolGroups([...rules, { name: 'MedchainNew', expr: 'x > 1', forS: 0, labels: {} }], 15), /MedchainNew/, 'an alert without a scenario is refused')
  t.equal(durationSeconds('1h30m'), 5400)
  t.equal(longestRangeSeconds('rate(a[5m]) / rate(b[30s]) > 1'), 300)
})

t.test('every range window holds at least 4 samples at the largest supported interval', async t => {
  const largest = Math.max(...SUPPORTED_INTERVALS_S)
  for (const r of rules) {
    const windows = [...r.expr.matchAll(/\[(\w+)\]/g)].map(m => durationSeconds(m[1]))
    for (const w of windows) t.ok(w >= 4 * largest, `${r.name}: window ${w} s >= 4 x ${largest} s`)
  }
})

t.test('every alert fires soon enough at every supported interval', async t => {
  // The bound the generated tests allow grows with the rule's window and for:, so the
  // rules must also keep that bound within what the severity promises.
  const budgetS: Record<string, number> = { critical: 5 * 60, warning: 15 * 60 }
  for (const r of rules) {
    for (const i of SUPPORTED_INTERVALS_S) {
      const d = maxDelayS(r, FAULTS[r.name], i)
      t.ok(d <= budgetS[r.labels.severity], `${r.name} (${r.labels.severity}) fires within ${d} s at ${i} s scrapes (budget ${budgetS[r.labels.severity]} s)`)
    }
  }
})

t.test('the shipped example scrapes at a supported interval', async t => {
  const example = readFileSync(join(ROOT, 'deploy', 'prometheus.example.yml'), 'utf8')
  const m = /^\s*scrape_interval:\s*(\S+)/m.exec(example)
  t.ok(m !== null, 'prometheus.example.yml sets scrape_interval')
  t.ok((SUPPORTED_INTERVALS_S as readonly number[]).includes(durationSeconds(m?.[1] ?? '0s')), `scrape_interval ${m?.[1]} is one of ${SUPPORTED_INTERVALS_S.join(', ')} s`)
})

if (!havePromtool) {
  t.comment('promtool not found (apt-get install prometheus; .ci/run installs it): skipping the rule unit tests')
  t.test('promtool test rules', { skip: 'promtool absent (apt-get install prometheus)' })
} else {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-alert-tests-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // promtool compares annotations too; theirs are templates for humans, so the test copy drops them.
  const stripped = withoutAnnotations(rulesText)
  const rulesPath = join(dir, 'medchain-alerts.yml')
  writeFileSync(rulesPath, stripped.text)

  t.test('the test copy of the rules differs only by its annotations', async t => {
    t.ok(stripped.removed.length > 0)
    t.ok(stripped.removed.every(l => /^\s*(annotations:|summary:|description:)/.test(l) || l.trim() === ''), 'only annotation lines removed')
    t.same(parseAlertRules(stripped.text), rules, 'same names, expressions, for: and labels')
    const check = spawnSync(PROMTOOL, ['check', 'rules', rulesPath], { encoding: 'utf8' })
    t.equal(check.status, 0, `${check.stdout}${check.stderr}`)
  })

  for (const intervalS of SUPPORTED_INTERVALS_S) {
    t.test(`promtool test rules at ${intervalS} s scrapes: every alert fires on its fault, none on a healthy node`, async t => {
      const path = join(dir, `alerts-${intervalS}s.test.yml`)
      writeFileSync(path, promtoolTestFile(rulesPath, rules, intervalS))
      const groups = promtoolGroups(rules, intervalS)
      t.equal(groups.length, rules.length + 1, 'a healthy group and one per alert')
      const r = spawnSync(PROMTOOL, ['test', 'rules', path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
      t.equal(r.status, 0, `promtool test rules ${path}:\n${(r.stdout + r.stderr).slice(0, 3000)}`)
      t.match(r.stdout, /SUCCESS/)
    })
  }
}
