// The real-Prometheus test: Debian's prometheus scrapes a 4-validator devnet under load at
// the scrape interval of deploy/prometheus.example.yml, with the shipped alert rules as they
// are. No alert may fire while the chain is healthy (checked once every alert's window is
// full); every Grafana panel query and every alert expression must return data through the
// HTTP query API; and the halted-chain alert must fire once two validators are killed.
import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { prometheusConfig } from '../../cli/prometheus.js'
import { startDevnet, setupWorld, accessAndBreakGlass, runLoad, freeBasePort, height, ROOT, type RunningDevnet } from './harness.js'
import { ALERTS_FILE, readDashboard, panelQueries, substitute, asBoolComparison, instantQuery } from './promql.js'
import { durationSeconds, longestRangeSeconds } from './alertrules.js'
import { sleep, waitFor } from '../wait.js'

const PROMETHEUS = '/usr/bin/prometheus'
const PROMTOOL = '/usr/bin/promtool'
/** The interval operators get: the shipped example's, not the devnet's generated 5 s. */
const SCRAPE_INTERVAL = /^\s*scrape_interval:\s*(\S+)/m.exec(readFileSync(join(ROOT, 'deploy', 'prometheus.example.yml'), 'utf8'))?.[1] ?? 'missing'
const SCRAPE_S = durationSeconds(SCRAPE_INTERVAL)
/** Grafana's $__rate_interval: four scrape intervals. */
const RATE_WINDOW = `${4 * SCRAPE_S}s`
// Two windows of 2 min at 15 s scrapes (healthy, then halted) do not fit tap's 300 s default.
t.setTimeout(15 * 60 * 1000)

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

    // The shipped rules, unchanged, at the shipped example's scrape and evaluation interval.
    const rulesText = readFileSync(ALERTS_FILE, 'utf8')
    t.comment(`scrape and evaluation interval ${SCRAPE_INTERVAL} (deploy/prometheus.example.yml)`)
    writeFileSync(join(net.dir, 'prometheus-test.yml'), prometheusConfig(net.info, { scrapeInterval: SCRAPE_INTERVAL, evaluationInterval: SCRAPE_INTERVAL, ruleFiles: [ALERTS_FILE] }))

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
    await waitFor('prometheus ready', 20_000, async () => (await fetch(`${promUrl}/-/ready`)).ok, 250)
    await waitFor('4 targets up', (2 * SCRAPE_S + 10) * 1000, async () => {
      const up = await instantQuery(promUrl, 'up{job="medchain"} == 1')
      return up.length === 4
    }, 500)

    // Workload: identities, an access and a break-glass, then load on every node until the
    // healthy phase ends, so rates over RATE_WINDOW have data throughout.
    const setupStart = Date.now()
    const world = await setupWorld(net.clients[0], net.info.nodes[0].home)
    await accessAndBreakGlass(net.clients[0], world)
    t.comment(`setup committed in ${Date.now() - setupStart} ms`)

    const dashboard = readDashboard()
    const queries = panelQueries(dashboard).map(q => ({ ...q, promql: substitute(q.expr, dashboard, RATE_WINDOW) }))
    t.ok(queries.length >= 20, `dashboard has ${queries.length} panel queries`)
    interface RuleState { type: string, name: string, query: string, state: string, lastEvaluation: string }
    const rulesNow = async (): Promise<RuleState[]> =>
      ((await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: RuleState[] }> } }).data.groups.flatMap(g => g.rules).filter(r => r.type === 'alerting')
    const alertRules = await rulesNow()
    const namesInFile = [...rulesText.matchAll(/^\s*- alert:\s*(\S+)/gm)].map(m => m[1]).sort()
    t.same(alertRules.map(r => r.name).sort(), namesInFile, 'Prometheus loaded every alert of the rules file')
    const haltedRule = alertRules.find(r => r.name === 'MedchainChainHalted')
    if (haltedRule === undefined) throw new Error('MedchainChainHalted missing from the rules file')

    // Each query/alert must return at least one series with a finite value at some point.
    const pending = new Map<string, { label: string, promql: string }>()
    for (const q of queries) pending.set(`panel ${q.panel} ${q.refId}`, { label: `${q.panel} [${q.refId}]`, promql: q.promql })
    for (const r of alertRules) pending.set(`alert ${r.name}`, { label: `alert ${r.name}`, promql: asBoolComparison(r.query) })
    const samples = new Map<string, string>()
    // The halted-chain condition must be seen false while the chain advances, so an
    // expression that is always true (it would "fire" after the kill too) cannot pass.
    let haltedSeenFalse = false
    const probeHalted = async (): Promise<void> => {
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
    type Alert = { labels: Record<string, string>, state: string, activeAt: string }
    const alertsNow = async (): Promise<Alert[]> =>
      ((await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: Alert[] } }).data.alerts
    // Every alert seen firing while the chain is healthy (pending is allowed: right after
    // Prometheus starts a window holds one sample; `for:` is there to outlast that).
    const firedWhileHealthy = new Map<string, Alert>()
    const watchAlerts = async (): Promise<void> => {
      for (const a of await alertsNow()) if (a.state === 'firing') firedWhileHealthy.set(`${a.labels.alertname} ${a.labels.node ?? ''} ${a.labels.validator ?? ''}`, a)
    }

    const loadStart = Date.now()
    let loadDone = false
    const load = runLoad(net.clients, world, 100).finally(() => { loadDone = true })
    while (!loadDone) { await watchAlerts(); await probeAll(); await sleep(2000) }
    const committed = await load
    const loadMs = Date.now() - loadStart
    t.equal(committed, 300, `load committed ${committed} txs in ${loadMs} ms (${Math.round(committed / (loadMs / 1000))} tx/s)`)

    // The healthy phase lasts until Prometheus holds a full halted-chain window for every
    // node (the positive sign that the rule judges real data), plus one evaluation after it.
    const windowS = longestRangeSeconds(haltedRule.query)
    const fullWindow = `count_over_time(medchain_chain_height{job="medchain"}[${windowS}s]) >= ${Math.floor(windowS / SCRAPE_S)}`
    let moreLoad = 0
    let keepLoading = true
    let loadError: unknown
    const background = (async () => {
      while (keepLoading) { moreLoad += await runLoad(net.clients, world, 20); await sleep(1000) }
    })().catch(err => { loadError = err })
    const windowFullAt = await waitFor(`a full ${windowS} s window of medchain_chain_height for 4 nodes`, (windowS + 8 * SCRAPE_S) * 1000, async () => {
      await watchAlerts()
      await probeAll()
      return (await instantQuery(promUrl, fullWindow)).length === 4 ? Date.now() : null
    }, 2000)
    await waitFor('an evaluation of the halted-chain rule after the window filled', 4 * SCRAPE_S * 1000, async () => {
      await watchAlerts()
      const r = (await rulesNow()).find(r => r.name === 'MedchainChainHalted')
      return r !== undefined && Date.parse(r.lastEvaluation) > windowFullAt
    }, 1000)
    await watchAlerts()
    const activeHealthy = await alertsNow()
    keepLoading = false
    await background
    t.equal(loadError, undefined, 'the background load ran without error')
    t.ok(moreLoad > 0, `${moreLoad} more txs committed during the healthy phase`)
    t.same([...firedWhileHealthy.values()].map(a => a.labels), [], `no alert fired on the healthy devnet (${Math.round((Date.now() - started) / 1000)} s in)`)
    t.same(activeHealthy.filter(a => a.labels.alertname === 'MedchainChainHalted').map(a => `${a.labels.node}:${a.state}`), [], 'with a full window, the halted-chain alert is not even pending on any node')
    t.ok(haltedSeenFalse, 'the halted-chain condition was false on every node while the chain advanced')
    await waitFor('every panel query and alert expression to return data', 4 * SCRAPE_S * 1000, async () => { await probeAll(); return pending.size === 0 }, 1000).catch(() => {})

    // Grafana's variable queries: label_values(medchain_chain_height, job|instance).
    const jobs = await (await fetch(`${promUrl}/api/v1/label/job/values?match[]=medchain_chain_height`)).json() as { data: string[] }
    t.same(jobs.data, ['medchain'], 'job variable has values')
    const h0 = await height(net.clients[0])
    t.comment(`before the kill: height ${h0}`)

    // Stop consensus: 2 of 4 validators gone leaves no 2/3 quorum. The halted-chain rule
    // holds once its window holds no change: up to the window plus a scrape and an evaluation.
    net.killNode(2)
    net.killNode(3)
    const killedAt = Date.now()
    const halted = await waitFor('MedchainChainHalted to be pending or firing on the survivors', (windowS + 6 * SCRAPE_S) * 1000, async () => {
      await probeAll().catch(() => {})
      const a = (await alertsNow()).filter(a => a.labels.alertname === 'MedchainChainHalted' && (a.labels.node === 'node0' || a.labels.node === 'node1'))
      return a.length === 2 ? a : null
    }, 2000)
    t.ok(halted.every(a => a.state === 'pending' || a.state === 'firing'), `halted-chain alert ${halted.map(a => `${a.labels.node}:${a.state}`).join(', ')} ${Date.now() - killedAt} ms after the kill`)
    const h1 = await height(net.clients[0])
    // The survivors really stopped: the window the alert looked at holds one height.
    const heights = await instantQuery(promUrl, `max_over_time(medchain_chain_height{node=~"node0|node1"}[${windowS}s]) - min_over_time(medchain_chain_height{node=~"node0|node1"}[${windowS}s])`)
    t.same(heights.map(r => r.value[1]), ['0', '0'], 'no new height on the survivors in the whole window')
    t.equal(await height(net.clients[0]), h1, 'the surviving validators really stopped committing')
    const quorum = await waitFor('MedchainPeersBelowQuorum to fire', 60_000, async () => {
      const a = (await alertsNow()).filter(a => a.labels.alertname === 'MedchainPeersBelowQuorum' && a.labels.node === 'node0')
      return a.length > 0 ? a : null
    }, 1000)
    t.ok(quorum.length > 0, `peers-below-quorum alert is ${quorum[0].state} on node0`)

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
