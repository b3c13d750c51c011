// promtool unit tests generated from deploy/medchain-alerts.yml: for every alert and every
// supported scrape interval, a healthy node on which no alert may fire and a node with the
// alert's fault on which it must fire within its window + `for:` (+ two intervals).
// The rules file drives the generation (names, labels, windows, `for:`); the table below
// only says what each alert's fault looks like in the metrics, and an alert without an
// entry is an error, so a new alert cannot go untested.

/** Scrape (= evaluation) intervals the rules must work at, in seconds. */
export const SUPPORTED_INTERVALS_S = [5, 15, 30] as const

export interface AlertRule { name: string, expr: string, forS: number, labels: Record<string, string> }

/** Prometheus duration ("90s", "2m", "1h30m") in seconds. */
export function durationSeconds (d: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }
  let total = 0
  let rest = d
  while (rest.length > 0) {
    const m = /^(\d+)(ms|s|m|h|d|w)/.exec(rest)
    if (m === null) throw new Error(`not a Prometheus duration: ${JSON.stringify(d)}`)
    total += Number(m[1]) * units[m[2]]
    rest = rest.slice(m[0].length)
  }
  if (d.length === 0) throw new Error('empty Prometheus duration')
  return total
}

/** The longest range selector (`[2m]`) in an expression, in seconds; 0 when it has none. */
export function longestRangeSeconds (expr: string): number {
  return Math.max(0, ...[...expr.matchAll(/\[(\w+)\]/g)].map(m => durationSeconds(m[1])))
}

/**
 * The alerting rules of a rules file in the layout deploy/medchain-alerts.yml keeps:
 * `- alert:` starts a rule, then one-line `expr:` and `for:`, a `labels:` block of
 * `key: value` lines. Anything else in that layout (a multi-line expr) throws.
 */
export function parseAlertRules (text: string): AlertRule[] {
  const rules: AlertRule[] = []
  let current: { name: string, expr?: string, forS?: number, labels: Record<string, string> } | null = null
  let block: 'labels' | 'other' | null = null
  let blockIndent = 0
  const finish = (): void => {
    if (current === null) return
    if (current.expr === undefined) throw new Error(`alert ${current.name} has no expr`)
    rules.push({ name: current.name, expr: current.expr, forS: current.forS ?? 0, labels: current.labels })
  }
  for (const line of text.split('\n')) {
    if (/^\s*(#.*)?$/.test(line)) continue
    const indent = line.length - line.trimStart().length
    const alert = /^\s*- alert:\s*(\S+)\s*$/.exec(line)
    if (alert !== null) { finish(); current = { name: alert[1], labels: {} }; block = null; continue }
    if (current === null) continue
    if (block !== null && indent > blockIndent) {
      if (block === 'labels') {
        const kv = /^\s*([a-zA-Z_][a-zA-Z0-9_]*):\s*"?([^"]*)"?\s*$/.exec(line)
        if (kv === null) throw new Error(`alert ${current.name}: unreadable label line ${JSON.stringify(line)}`)
        current.labels[kv[1]] = kv[2]
      }
      continue
    }
    block = null
    const field = /^\s*(expr|for|labels|annotations):\s*(.*)$/.exec(line)
    if (field === null) { if (/^\s*- /.test(line)) { finish(); current = null } continue }
    const [, key, value] = field
    if (key === 'expr') {
      if (value === '' || value === '|' || value === '>') throw new Error(`alert ${current.name}: expr must fit on one line`)
      current.expr = value.trim()
    } else if (key === 'for') current.forS = durationSeconds(value.trim())
    else { block = key === 'labels' ? 'labels' : 'other'; blockIndent = indent }
  }
  finish()
  return rules
}

/**
 * The rules file without its `annotations:` blocks: promtool compares annotations too,
 * and their templates are for humans. Returns the text and the lines it removed.
 */
export function withoutAnnotations (text: string): { text: string, removed: string[] } {
  const kept: string[] = []
  const removed: string[] = []
  let skipIndent: number | null = null
  for (const line of text.split('\n')) {
    const indent = line.length - line.trimStart().length
    if (skipIndent !== null && (line.trim() === '' || indent > skipIndent)) { removed.push(line); continue }
    skipIndent = null
    if (/^\s*annotations:\s*$/.test(line)) { skipIndent = indent; removed.push(line); continue }
    kept.push(line)
  }
  return { text: kept.join('\n'), removed }
}

// --- The node model: one validator of 4, scraped from Prometheus' start (t = 0). ---

const TARGET = { instance: 'validator.hospital-a.example:26600', job: 'medchain', node: 'hospital-a' }
const VALIDATORS = ['v0', 'v1', 'v2', 'v3']
/** The slowest healthy chain: an empty block every second (createEmptyBlocksMs = 1000). */
const BLOCKS_PER_S = 1
const START_HEIGHT = 5000
/** When the fault starts, and how long each scenario runs after its check time. */
const FAULT_AT_S = 6 * 60

type Sample = Map<string, number>
type Fault = (t: number, healthy: Sample) => void

function seriesKey (name: string, extra: Record<string, string> = {}): string {
  const labels = { ...TARGET, ...extra }
  const body = Object.keys(labels).sort().map(k => `${k}=${JSON.stringify(labels[k as keyof typeof labels])}`).join(',')
  return `${name}{${body}}`
}

/** Every series the alerts read, as a healthy node reports them at second t. */
function healthyAt (t: number): Sample {
  const height = START_HEIGHT + Math.floor(BLOCKS_PER_S * t)
  const s: Sample = new Map()
  s.set(seriesKey('medchain_chain_height'), height)
  // A healthy validator's precommit can miss a certificate or two (2/3+1 suffice).
  VALIDATORS.forEach((v, i) => s.set(seriesKey('medchain_consensus_validator_last_commit_height', { validator: v }), height - (i % 3)))
  s.set(seriesKey('medchain_p2p_peers'), VALIDATORS.length - 1)
  s.set(seriesKey('medchain_consensus_validators'), VALIDATORS.length)
  s.set(seriesKey('medchain_consensus_validators_heard'), VALIDATORS.length)
  s.set(seriesKey('medchain_consensus_rounds_per_height_count'), height)
  s.set(seriesKey('medchain_consensus_rounds_per_height_sum'), height)
  s.set(seriesKey('medchain_mempool_txs'), 40)
  s.set(seriesKey('medchain_mempool_capacity_txs'), 10_000)
  return s
}

export interface AlertFault {
  /** What goes wrong, for the test name. */
  what: string
  /** Rewrites the healthy sample at second t ≥ FAULT_AT_S. */
  apply: Fault
  /** Labels of the series the alert fires on, beyond the target's and the rule's. */
  labels?: Record<string, string>
  /** Seconds after the fault before the condition can hold at all (e.g. heights to fall behind). */
  settleS?: number
}

const frozen = (key: string): Fault => (t, s) => { s.set(key, healthyAt(FAULT_AT_S).get(key) as number) }

/** What each alert's fault looks like in the metrics. Every alert of the rules file needs one. */
export const FAULTS: Record<string, AlertFault> = {
  MedchainChainHalted: {
    what: 'height stops',
    apply: (t, s) => {
      const at = healthyAt(FAULT_AT_S)
      for (const [k, v] of at) if (/height|rounds_per_height/.test(k)) s.set(k, v)
    }
  },
  MedchainValidatorMissingFromCommits: {
    what: 'v3 drops out of commit certificates',
    apply: frozen(seriesKey('medchain_consensus_validator_last_commit_height', { validator: 'v3' })),
    labels: { validator: 'v3' },
    settleS: 11 / BLOCKS_PER_S
  },
  MedchainPeersBelowQuorum: {
    what: 'two of three peers disconnect',
    apply: (t, s) => { s.set(seriesKey('medchain_p2p_peers'), 1) }
  },
  MedchainQuorumNotHeard: {
    what: 'consensus messages from only 2 of 4 validators',
    apply: (t, s) => { s.set(seriesKey('medchain_consensus_validators_heard'), 2) }
  },
  MedchainRoundsAboveOne: {
    what: 'every height needs two rounds',
    apply: (t, s) => {
      const count = s.get(seriesKey('medchain_consensus_rounds_per_height_count')) as number
      s.set(seriesKey('medchain_consensus_rounds_per_height_sum'), count + (count - healthyAt(FAULT_AT_S).get(seriesKey('medchain_consensus_rounds_per_height_count'))!))
    }
  },
  MedchainMempoolFull: {
    what: 'mempool at 95 %',
    apply: (t, s) => { s.set(seriesKey('medchain_mempool_txs'), 9_500) }
  }
}

interface InputSeries { series: string, values: string }
interface AlertTest { eval_time: string, alertname: string, exp_alerts: Array<{ exp_labels: Record<string, string> }> }
export interface PromtoolTestGroup { name: string, interval: string, input_series: InputSeries[], alert_rule_test: AlertTest[] }

/** Samples every `intervalS` from 0 to `endS`; `missed` scrapes are written as stale, as Prometheus does on a failed scrape. */
function inputSeries (intervalS: number, endS: number, at: (t: number) => Sample, missed: Set<number>): InputSeries[] {
  const columns = new Map<string, string[]>()
  for (let t = 0; t <= endS; t += intervalS) {
    for (const [k, v] of at(t)) {
      const col = columns.get(k) ?? []
      col.push(missed.has(t) ? 'stale' : String(v))
      columns.set(k, col)
    }
  }
  return [...columns.entries()].map(([series, values]) => ({ series, values: values.join(' ') }))
}

const ceilTo = (x: number, step: number): number => Math.ceil(x / step) * step

/** The longest a correct rule may take from the fault to firing at this interval. */
export function maxDelayS (rule: AlertRule, fault: AlertFault, intervalS: number): number {
  return (fault.settleS ?? 0) + longestRangeSeconds(rule.expr) + Math.max(rule.forS, intervalS) + 2 * intervalS
}

/**
 * The promtool test groups for one interval: a healthy node (one failed scrape at 4 min)
 * where no alert fires at any evaluation, and per alert a node that is healthy until
 * FAULT_AT_S, where the alert does not fire before the fault and fires by the fault +
 * maxDelayS (and still at the end).
 */
export function promtoolGroups (rules: AlertRule[], intervalS: number): PromtoolTestGroup[] {
  const missing = rules.filter(r => FAULTS[r.name] === undefined).map(r => r.name)
  if (missing.length > 0) throw new Error(`alerts without a fault scenario in test/ops/alertrules.ts: ${missing.join(', ')}`)
  const interval = `${intervalS}s`
  const groups: PromtoolTestGroup[] = []
  const expected = (rule: AlertRule, fault: AlertFault): Record<string, string> => ({ ...TARGET, ...(fault.labels ?? {}), ...rule.labels })

  const healthyEnd = ceilTo(FAULT_AT_S + Math.max(...rules.map(r => maxDelayS(r, FAULTS[r.name], intervalS))), intervalS)
  const healthyTests: AlertTest[] = []
  for (let t = 0; t <= healthyEnd; t += intervalS) {
    for (const r of rules) healthyTests.push({ eval_time: `${t}s`, alertname: r.name, exp_alerts: [] })
  }
  groups.push({
    name: `healthy node, ${interval} scrapes: no alert fires`,
    interval,
    input_series: inputSeries(intervalS, healthyEnd, healthyAt, new Set([ceilTo(4 * 60, intervalS)])),
    alert_rule_test: healthyTests
  })

  for (const rule of rules) {
    const fault = FAULTS[rule.name]
    const firesBy = ceilTo(FAULT_AT_S + maxDelayS(rule, fault, intervalS), intervalS)
    const end = firesBy + 2 * intervalS
    const at = (t: number): Sample => { const s = healthyAt(t); if (t >= FAULT_AT_S) fault.apply(t, s); return s }
    const tests: AlertTest[] = []
    for (let t = 0; t < FAULT_AT_S; t += intervalS) tests.push({ eval_time: `${t}s`, alertname: rule.name, exp_alerts: [] })
    for (const t of [firesBy, end]) tests.push({ eval_time: `${t}s`, alertname: rule.name, exp_alerts: [{ exp_labels: expected(rule, fault) }] })
    groups.push({ name: `${rule.name}, ${interval} scrapes: ${fault.what}`, interval, input_series: inputSeries(intervalS, end, at, new Set()), alert_rule_test: tests })
  }
  return groups
}

/** A promtool unit-test file (JSON is YAML) for the given rules file and intervals. */
export function promtoolTestFile (rulesPath: string, rules: AlertRule[], intervalS: number): string {
  return JSON.stringify({ rule_files: [rulesPath], evaluation_interval: `${intervalS}s`, tests: promtoolGroups(rules, intervalS) }, null, 1)
}
