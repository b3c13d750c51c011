// The real-Prometheus test: Debian's prometheus scrapes a 4-validator devnet under load;
// every Grafana panel query and every alert expression must return data through the
// HTTP query API, and the halted-chain alert must fire once two validators are killed.
import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { prometheusConfig } from '../../cli/prometheus.js'
import { startDevnet, setupWorld, accessAndBreakGlass, runLoad, waitFor, freeBasePort, height, type RunningDevnet } from './harness.js'
import { ALERTS_FILE, readDashboard, panelQueries, substitute, asBoolComparison, shortenFor, instantQuery } from './promql.js'

const PROMETHEUS = '/usr/bin/prometheus'
const PROMTOOL = '/usr/bin/promtool'
const RATE_WINDOW = '20s'
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

const haveProm = existsSync(PROMETHEUS) || spawnSync('which', ['prometheus']).status === 0
if (!haveProm) {
  t.comment('prometheus binary not found (apt-get install prometheus; .ci/run installs it): skipping the real-Prometheus test')
  t.pass('skipped: no prometheus binary', { skip: 'prometheus binary absent' })
} else {
  t.test('alert rules pass promtool', async t => {
    const tool = existsSync(PROMTOOL) ? PROMTOOL : 'promtool'
    const r = spawnSync(tool, ['check', 'rules', ALERTS_FILE], { encoding: 'utf8' })
    t.equal(r.status, 0, `promtool check rules: ${r.stdout}${r.stderr}`)
    t.match(r.stdout, /SUCCESS: 6 rules found/)
  })

  t.test('Prometheus on a 4-validator devnet under load', async t => {
    const started = Date.now()
    const net: RunningDevnet = await startDevnet(4, 'prom')
    let prom: ChildProcess | null = null
    t.teardown(async () => {
      if (prom !== null && prom.exitCode === null) { prom.kill('SIGKILL') }
      await net.stop()
    })
    t.comment(`devnet up in ${Date.now() - started} ms at ${net.dir}`)

    // The config `medchain devnet` wrote is valid as written.
    const written = join(net.dir, 'prometheus.yml')
    const check = spawnSync(existsSync(PROMTOOL) ? PROMTOOL : 'promtool', ['check', 'config', written], { encoding: 'utf8' })
    t.equal(check.status, 0, `promtool check config ${written}: ${check.stdout}${check.stderr}`)
    t.match(readFileSync(written, 'utf8'), new RegExp(new URL(net.info.nodes[3].metrics).host.replace(/\./g, '\\.')), 'every node is a target')

    // Test rendering: 1 s scrapes, and the same rules with every `for` shortened.
    const rulesText = readFileSync(ALERTS_FILE, 'utf8')
    const testRules = shortenFor(rulesText, '2s')
    const changed = rulesText.split('\n').map((l, i) => [l, testRules.split('\n')[i]]).filter(([a, b]) => a !== b)
    t.ok(changed.length > 0 && changed.every(([a, b]) => /^\s*for:/.test(a) && /^\s*for:/.test(b)), 'test rules differ only in their for: durations')
    writeFileSync(join(net.dir, 'test-alerts.yml'), testRules)
    writeFileSync(join(net.dir, 'prometheus-test.yml'), prometheusConfig(net.info, { scrapeInterval: '1s', evaluationInterval: '1s', ruleFiles: ['test-alerts.yml'] }))

    const promPort = await freeBasePort(1)
    const promUrl = `http://127.0.0.1:${promPort}`
    let promLog = ''
    prom = spawn(PROMETHEUS, [
      `--config.file=${join(net.dir, 'prometheus-test.yml')}`,
      `--storage.tsdb.path=${join(net.dir, 'prometheus-data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn'
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    prom.stderr?.on('data', d => { promLog = (promLog + String(d)).slice(-4000) })
    await waitFor('prometheus ready', 20_000, async () => (await fetch(`${promUrl}/-/ready`)).ok)
    await waitFor('4 targets up', 20_000, async () => {
      const up = await instantQuery(promUrl, 'up{job="medchain"} == 1')
      return up.length === 4
    })

    // Workload: identities, an access and a break-glass, then load on every node.
    const setupStart = Date.now()
    const world = await setupWorld(net.clients[0], net.info.nodes[0].home)
    await accessAndBreakGlass(net.clients[0], world)
    t.comment(`setup committed in ${Date.now() - setupStart} ms`)

    const dashboard = readDashboard()
    const queries = panelQueries(dashboard).map(q => ({ ...q, promql: substitute(q.expr, dashboard, RATE_WINDOW) }))
    t.ok(queries.length >= 20, `dashboard has ${queries.length} panel queries`)
    const ruleGroups = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ type: string, name: string, query: string }> }> } }
    const alertRules = ruleGroups.data.groups.flatMap(g => g.rules).filter(r => r.type === 'alerting')
    const namesInFile = [...rulesText.matchAll(/^\s*- alert:\s*(\S+)/gm)].map(m => m[1]).sort()
    t.same(alertRules.map(r => r.name).sort(), namesInFile, 'Prometheus loaded every alert of the rules file')
    t.ok(namesInFile.includes('MedchainChainHalted'))

    // Each query/alert must return at least one series with a finite value at some point.
    const pending = new Map<string, { label: string, promql: string }>()
    for (const q of queries) pending.set(`panel ${q.panel} ${q.refId}`, { label: `${q.panel} [${q.refId}]`, promql: q.promql })
    for (const r of alertRules) pending.set(`alert ${r.name}`, { label: `alert ${r.name}`, promql: asBoolComparison(r.query) })
    const samples = new Map<string, string>()
    // The halted-chain condition must be seen false while the chain advances, so an
    // expression that is always true (it would "fire" after the kill too) cannot pass.
    const haltedRule = alertRules.find(r => r.name === 'MedchainChainHalted')
    let haltedSeenFalse = false
    const probeHalted = async (): Promise<void> => {
      if (haltedRule === undefined) return
      const r = await instantQuery(promUrl, asBoolComparison(haltedRule.query))
      if (r.length === 4 && r.every(x => x.value[1] === '0')) haltedSeenFalse = true
    }
    const probeAll = async (): Promise<void> => {
      await probeHalted()
      await Promise.all([...pending.entries()].map(async ([key, q]) => {
        const result = await instantQuery(promUrl, q.promql)
        const finite = result.filter(r => Number.isFinite(Number(r.value[1])))
        if (finite.length > 0) {
          samples.set(q.label, `${finite.length} series, e.g. ${JSON.stringify(finite[0].metric)} = ${finite[0].value[1]}`)
          pending.delete(key)
        }
      }))
    }

    const loadStart = Date.now()
    let loadDone = false
    const load = runLoad(net.clients, world, 100).finally(() => { loadDone = true })
    while (!loadDone) { await probeAll(); await sleep(2000) }
    const committed = await load
    const loadMs = Date.now() - loadStart
    t.equal(committed, 300, `load committed ${committed} txs in ${loadMs} ms (${Math.round(committed / (loadMs / 1000))} tx/s)`)
    await waitFor('every panel query and alert expression to return data', 12_000, async () => { await probeAll(); return pending.size === 0 }, 1000).catch(() => {})

    // Grafana's variable queries: label_values(medchain_chain_height, job|instance).
    const jobs = await (await fetch(`${promUrl}/api/v1/label/job/values?match[]=medchain_chain_height`)).json() as { data: string[] }
    t.same(jobs.data, ['medchain'], 'job variable has values')

    const alertsNow = async (): Promise<Array<{ labels: Record<string, string>, state: string }>> =>
      ((await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string>, state: string }> } }).data.alerts
    const before = (await alertsNow()).filter(a => a.labels.alertname === 'MedchainChainHalted')
    const h0 = await height(net.clients[0])
    t.comment(`before the kill: height ${h0}, halted alerts ${JSON.stringify(before.map(a => [a.labels.node, a.state]))}`)

    t.ok(haltedSeenFalse, 'the halted-chain condition was false on every node while the chain advanced')

    // Stop consensus: 2 of 4 validators gone leaves no 2/3 quorum.
    net.killNode(2)
    net.killNode(3)
    const killedAt = Date.now()
    const halted = await waitFor('MedchainChainHalted to fire', 40_000, async () => {
      await probeAll().catch(() => {})
      const a = (await alertsNow()).filter(a => a.labels.alertname === 'MedchainChainHalted' && (a.labels.node === 'node0' || a.labels.node === 'node1'))
      return a.length > 0 ? a : null
    }, 1000)
    t.ok(halted.every(a => a.state === 'pending' || a.state === 'firing'), `halted-chain alert ${halted.map(a => `${a.labels.node}:${a.state}`).join(', ')} ${Date.now() - killedAt} ms after the kill`)
    const h1 = await height(net.clients[0])
    await sleep(1500)
    t.equal(await height(net.clients[0]), h1, 'the surviving validators really stopped committing')
    const quorum = await waitFor('MedchainPeersBelowQuorum to fire', 15_000, async () => {
      const a = (await alertsNow()).filter(a => a.labels.alertname === 'MedchainPeersBelowQuorum' && a.labels.node === 'node0')
      return a.length > 0 ? a : null
    }, 1000)
    t.ok(quorum.length > 0, 'peers-below-quorum alert is active on node0')

    await probeAll()
    t.same([...pending.values()].map(q => q.label), [], 'every panel query and alert expression returned data')
    const report = [...samples.entries()].map(([k, v]) => `${k}: ${v}`).join('\n')
    const reportPath = join(tmpdir(), 'medchain-prometheus-queries.txt')
    writeFileSync(reportPath, report + '\n')
    t.comment(`${samples.size} queries with data; sample values in ${reportPath}`)
    t.comment(`total ${Date.now() - started} ms`)
    if (pending.size > 0) t.comment(`prometheus log tail: ${promLog}`)
  })
}
