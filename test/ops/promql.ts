// Reading the deploy/ assets the way Prometheus and Grafana do, for the real-Prometheus test.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './harness.js'

export const ALERTS_FILE = join(ROOT, 'deploy', 'medchain-alerts.yml')
export const DASHBOARD_FILE = join(ROOT, 'deploy', 'grafana', 'medchain-dashboard.json')

export interface PanelQuery { panel: string, refId: string, expr: string }

interface Panel { title: string, type: string, targets?: Array<{ refId: string, expr: string }>, panels?: Panel[] }
interface Dashboard { panels: Panel[], templating: { list: Array<{ name: string, type: string, allValue?: string, query?: unknown }> } }

export function readDashboard (): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard
}

/** Every PromQL target of every panel (rows included), as Grafana would send it. */
export function panelQueries (d: Dashboard): PanelQuery[] {
  const out: PanelQuery[] = []
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push({ panel: p.title, refId: t.refId, expr: t.expr })
      if (p.panels !== undefined) walk(p.panels)
    }
  }
  walk(d.panels)
  return out
}

/**
 * Substitutes Grafana variables the way Grafana does with "All" selected: each query
 * variable by its allValue, $__rate_interval by a window. An unknown variable throws,
 * so a dashboard can never reference a variable it does not define.
 */
export function substitute (expr: string, d: Dashboard, rateInterval: string): string {
  const vars = new Map<string, string>()
  for (const v of d.templating.list) if (v.type === 'query') vars.set(v.name, v.allValue ?? '.+')
  return expr.replace(/\$\{?(\w+)\}?/g, (_m, name: string) => {
    if (name === '__rate_interval' || name === '__interval' || name === '__range') return rateInterval
    const value = vars.get(name)
    if (value === undefined) throw new Error(`dashboard query uses undefined variable $${name}: ${expr}`)
    return value
  })
}

/**
 * Turns "<signal> <cmp> <threshold>" into "<signal> <cmp> bool <threshold>", so the
 * expression answers for every series whether or not the alert condition holds. The
 * rules file promises exactly one top-level comparison per alert; this checks it.
 */
export function asBoolComparison (expr: string): string {
  const found: number[] = []
  let depth = 0
  let quote: string | null = null
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]
    if (quote !== null) { if (c === '\\') i++; else if (c === quote) quote = null; continue }
    if (c === '"' || c === "'" || c === '`') { quote = c; continue }
    if (c === '(' || c === '[' || c === '{') { depth++; continue }
    if (c === ')' || c === ']' || c === '}') { depth--; continue }
    if (depth !== 0) continue
    const two = expr.slice(i, i + 2)
    if (two === '==' || two === '!=' || two === '>=' || two === '<=') { found.push(i + 2); i++; continue }
    if (c === '>' || c === '<') found.push(i + 1)
  }
  if (found.length !== 1) throw new Error(`alert expression must have exactly one top-level comparison, found ${found.length}: ${expr}`)
  return expr.slice(0, found[0]) + ' bool' + expr.slice(found[0])
}

/** A test-only rendering of the rules: every `for:` shortened, nothing else touched. */
export function shortenFor (rulesText: string, duration: string): string {
  return rulesText.replace(/^(\s*for:\s*)\S+\s*$/gm, `$1${duration}`)
}

export interface PromResult { metric: Record<string, string>, value: [number, string] }

export async function instantQuery (base: string, expr: string): Promise<PromResult[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`)
  const body = await res.json() as { status: string, error?: string, data?: { resultType: string, result: PromResult[] | [number, string] } }
  if (body.status !== 'success') throw new Error(`query failed (${body.error ?? res.status}): ${expr}`)
  const data = body.data
  if (data === undefined) return []
  if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }]
  return data.result as PromResult[]
}
