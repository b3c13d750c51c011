// Fast checks of the deploy/ assets and the helpers the real-Prometheus test relies on.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { prometheusConfig, writePrometheusFiles, ALERT_RULES_FILE } from '../../cli/prometheus.js'
import { ALERTS_FILE, readDashboard, panelQueries, substitute, asBoolComparison, shortenFor } from './promql.js'
import { ROOT } from './harness.js'

const metricNames = [...readFileSync(join(ROOT, 'node', 'metrics.ts'), 'utf8').matchAll(/name: '(medchain_[a-z0-9_]+)'/g)].map(m => m[1])
const defaultMetrics = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'up']
/** A metric named in PromQL exists when node/metrics.ts declares it (histograms add _bucket/_sum/_count). */
function unknownMetrics (expr: string): string[] {
  const used = [...expr.matchAll(/\b((?:medchain|process|nodejs)_[a-z0-9_]+|up)\b/g)].map(m => m[1])
  return used.filter(n => !defaultMetrics.includes(n) && !metricNames.includes(n) && !metricNames.includes(n.replace(/_(bucket|sum|count)$/, '')))
}

t.test('dashboard and alerts only use metrics node/metrics.ts declares', async t => {
  t.ok(metricNames.length > 30, `${metricNames.length} medchain metrics declared`)
  const d = readDashboard()
  for (const q of panelQueries(d)) t.same(unknownMetrics(q.expr), [], `${q.panel} [${q.refId}]`)
  const rules = readFileSync(ALERTS_FILE, 'utf8')
  for (const m of rules.matchAll(/^\s*expr:\s*(.+)$/gm)) t.same(unknownMetrics(m[1]), [], m[1])
  t.same(unknownMetrics('rate(medchain_no_such_metric_total[1m])'), ['medchain_no_such_metric_total'], 'the check catches an unknown name')
})

t.test('every alert has one top-level comparison', async t => {
  const rules = readFileSync(ALERTS_FILE, 'utf8')
  const exprs = [...rules.matchAll(/^\s*expr:\s*(.+)$/gm)].map(m => m[1])
  const alerts = [...rules.matchAll(/^\s*- alert:\s*(\S+)$/gm)].length
  t.ok(alerts >= 6, `${alerts} alerts`)
  t.equal(exprs.length, alerts, 'one expression per alert')
  for (const e of exprs) t.match(asBoolComparison(e), / (==|>|<|>=|<=|!=) bool /, e)
  t.equal(asBoolComparison('rate(x{a=~">"}[5m]) > 0.9'), 'rate(x{a=~">"}[5m]) > bool 0.9', 'comparisons inside selectors and strings are not top-level')
  t.equal(asBoolComparison('a - on (i) group_right b >= 10'), 'a - on (i) group_right b >= bool 10')
  t.throws(() => asBoolComparison('a > 1 and b < 2'), /exactly one/)
  t.throws(() => asBoolComparison('sum(a)'), /exactly one/)
})

t.test('Grafana variables are substituted, unknown ones refused', async t => {
  const d = readDashboard()
  t.equal(substitute('rate(x{job=~"$job", instance=~"$instance"}[$__rate_interval])', d, '20s'), 'rate(x{job=~".+", instance=~".+"}[20s])')
  t.throws(() => substitute('x{node="$nope"}', d, '20s'), /undefined variable \$nope/)
  for (const q of panelQueries(d)) t.doesNotThrow(() => substitute(q.expr, d, '20s'), q.panel)
})

t.test('test rendering of the rules changes only for: durations', async t => {
  const rules = readFileSync(ALERTS_FILE, 'utf8')
  const short = shortenFor(rules, '2s')
  const a = rules.split('\n'); const b = short.split('\n')
  t.equal(a.length, b.length)
  const diff = a.map((l, i) => [l, b[i]]).filter(([x, y]) => x !== y)
  t.equal(diff.length, [...rules.matchAll(/^\s*- alert:/gm)].length, 'one for: per alert')
  t.ok(diff.every(([, y]) => /^\s*for: 2s$/.test(y)))
})

t.test('generated prometheus.yml', async t => {
  const text = prometheusConfig({ chainId: 'c1', nodes: [{ name: 'node1', api: 'http://127.0.0.1:27010', metrics: 'http://127.0.0.1:27012/metrics' }, { name: 'node0', api: 'http://127.0.0.1:27000', metrics: 'http://127.0.0.1:27002/metrics' }] }, { scrapeInterval: '1s' })
  t.match(text, /scrape_interval: 1s/)
  t.ok(text.indexOf('127.0.0.1:27002') < text.indexOf('127.0.0.1:27012'), 'targets sorted by node name')
  t.notMatch(text, /127\.0\.0\.1:27000/, 'the API port is not scraped: metrics have their own listener')
  t.match(text, /node: "node0"/)
  t.notMatch(text, /validator:/, 'no target label clashes with the validator label of medchain metrics')
  const dir = mkdtempSync(join(tmpdir(), 'medchain-promcfg-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = writePrometheusFiles(dir, { chainId: 'c1', nodes: [{ name: 'node0', api: 'http://127.0.0.1:27000', metrics: 'http://127.0.0.1:27002/metrics' }] })
  t.ok(existsSync(join(dir, ALERT_RULES_FILE)), 'alert rules copied next to the config')
  if (existsSync('/usr/bin/promtool')) {
    const r = spawnSync('/usr/bin/promtool', ['check', 'config', path], { encoding: 'utf8' })
    t.equal(r.status, 0, `promtool check config: ${r.stdout}${r.stderr}`)
    writeFileSync(join(dir, 'broken.yml'), text.replace('scrape_configs:', 'scrape_configz:'))
    t.not(spawnSync('/usr/bin/promtool', ['check', 'config', join(dir, 'broken.yml')]).status, 0, 'promtool does refuse a broken config')
  }
})
