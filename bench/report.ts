import type { BenchResult } from './run.js'
import type { PhaseResult } from './phase.js'

/** The targets of DESIGN.md "Performance targets". */
export const TARGETS = { txPerSec4: 5000, p50Ms: 150, p99Ms: 500, cpuUsPerTx: 250, stateCommitUsPerTx: 40, rssBytes: 300 * 1024 * 1024, diskRatio: 2, catchupTxPerSec: 10_000 }

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const f1 = (n: number): string => n.toFixed(1)
const ratio = (a: number, b: number): string => b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(2)} ×` : '–'
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`

type Row = [string, string, string, string]

function phaseRows (p: PhaseResult, r: BenchResult): Row[] {
  const b = r.bounds
  const rows: Row[] = []
  const cores = b.cores
  const ceiling = b.verifyPerSec * cores / p.validators
  rows.push([`${p.name}: committed tx/s (${p.targetRate === null ? 'max' : `offered ${int(p.targetRate)}/s`})`, int(p.txPerSec), `verify ceiling ${int(ceiling)} (${p.validators} val. on ${cores} cores)`, ratio(p.txPerSec, ceiling)])
  if (p.validators === 4 && p.targetRate === null) rows.push(['', '', `target ${int(TARGETS.txPerSec4)}`, ratio(p.txPerSec, TARGETS.txPerSec4)])
  rows.push([`${p.name}: peak 1 s / inside load window`, `${int(p.peakTxPerSec)} / ${int(p.txPerSecLoadWindow)}`, `load ${f1(p.durationS)} s + drain ${f1(p.drainS)} s`, ''])
  rows.push([`${p.name}: submitted / accepted / committed`, `${int(p.submitted)} / ${int(p.accepted)} / ${int(p.committed)}`, Object.keys(p.rejected).length > 0 ? `refused ${JSON.stringify(p.rejected)}` : '', ''])
  rows.push([`${p.name}: latency p50 / p90 / p99 / max ms`, `${f1(p.latencyMs.p50)} / ${f1(p.latencyMs.p90)} / ${f1(p.latencyMs.p99)} / ${f1(p.latencyMs.max)}`, `target p50 ${TARGETS.p50Ms}, p99 ${TARGETS.p99Ms}`, `${ratio(p.latencyMs.p50, TARGETS.p50Ms)}, ${ratio(p.latencyMs.p99, TARGETS.p99Ms)}`])
  if (p.stateCommitUsPerTx !== undefined) rows.push([`${p.name}: state commitment µs per committed tx per validator (mean)`, f1(p.stateCommitUsPerTx), `verify ${f1(b.verifyCpuUs ?? b.verifyUs)} CPU µs; target ${TARGETS.stateCommitUsPerTx}`, `${ratio(p.stateCommitUsPerTx, b.verifyCpuUs ?? b.verifyUs)}; ${ratio(p.stateCommitUsPerTx, TARGETS.stateCommitUsPerTx)}`])
  rows.push([`${p.name}: CPU µs per committed tx per validator (mean)`, f1(p.cpuUsPerTxMean), `verify ${f1(b.verifyCpuUs ?? b.verifyUs)} CPU µs; target ${TARGETS.cpuUsPerTx}`, `${ratio(p.cpuUsPerTxMean, b.verifyCpuUs ?? b.verifyUs)}; ${ratio(p.cpuUsPerTxMean, TARGETS.cpuUsPerTx)}`])
  for (const v of p.perValidator) {
    rows.push([`  ${v.name}: CPU s, µs/tx, RSS (peak)`, `${f1(v.cpuSeconds)} s, ${f1(v.cpuUsPerTx)}, ${mb(v.rssBytes)} (${mb(v.peakRssBytes)})`, `RSS target ${mb(TARGETS.rssBytes)}`, ratio(v.peakRssBytes, TARGETS.rssBytes)])
  }
  rows.push([`${p.name}: disk bytes per tx (data dir / ${int(p.chainTxs)} chain txs)`, int(p.diskBytesPerTx), `raw tx ${int(p.rawTxBytes)} B; target ≤ ${TARGETS.diskRatio} ×`, ratio(p.diskBytesPerTx, p.rawTxBytes)])
  rows.push([`${p.name}: blocks, tx/block, rounds/height, timeouts`, `${int(p.blocks)}, ${f1(p.txPerBlock)}, ${p.roundsPerHeight.toFixed(2)}, ${p.timeouts}`, '', ''])
  rows.push([`${p.name}: harness CPU s (load generator, same cores)`, f1(p.harnessCpuSeconds), '', ''])
  return rows
}

/** The terminal table: every figure beside the bound measured in the same run and its ratio. */
export function formatTable (r: BenchResult): string {
  const b = r.bounds
  const rows: Row[] = [['figure', 'value', 'bound / target', 'ratio']]
  rows.push(['libsodium ed25519 verify (the chain\'s verifier), one core', `${int(b.verifyPerSec)}/s (${f1(b.verifyUs)} µs wall, ${f1(b.verifyCpuUs ?? 0)} µs CPU)`, `noble ${int(b.nobleVerifyPerSec)}/s`, ratio(b.verifyPerSec, b.nobleVerifyPerSec)])
  rows.push([`LevelDB sync batches of ${b.leveldb.batchEntries} × ${b.leveldb.entryBytes} B`, `${int(b.leveldb.entriesPerSec)} entries/s`, `${f1(b.leveldb.batchesPerSec)} batches/s`, ''])
  if (r.max !== undefined) rows.push(...phaseRows(r.max, r))
  if (r.half !== undefined) rows.push(...phaseRows(r.half, r))
  if (r.catchup !== undefined) {
    const c = r.catchup
    rows.push([`catchup: ${c.stoppedNode} ${int(c.blocksBehind)} blocks / ${int(c.txsWhileDown)} txs behind`, `${int(c.txPerSec)} tx/s, ${f1(c.blocksPerSec)} blocks/s (${f1(c.syncS)} s + start ${f1(c.startupS)} s)`, `target ${int(TARGETS.catchupTxPerSec)} tx/s; LevelDB ${int(c.leveldbEntriesPerSec)}/s`, `${ratio(c.txPerSec, TARGETS.catchupTxPerSec)}; ${ratio(c.txPerSec, c.leveldbEntriesPerSec)}`])
  }
  for (const s of r.scale ?? []) {
    rows.push([`scale: ${s.validators} validators, committed tx/s`, `${int(s.txPerSec)} (p50 ${f1(s.latencyP50Ms)} ms, ${f1(s.cpuUsPerTxMean)} µs/tx, ${s.roundsPerHeight.toFixed(2)} rounds)`, `verify ceiling ${int(s.verifyCeiling)}`, ratio(s.txPerSec, s.verifyCeiling)])
  }
  if (r.memory !== undefined) {
    const m = r.memory
    for (const v of m.rssBytes) rows.push([`memory: ${v.name} RSS after ${int(m.committed)} txs (peak)`, `${mb(v.rssBytes)} (${mb(v.peakRssBytes)})`, `target ${mb(TARGETS.rssBytes)}`, ratio(v.peakRssBytes, TARGETS.rssBytes)])
    rows.push(['memory: disk bytes per tx', int(m.diskBytesPerTx), `raw ${int(m.rawTxBytes)} B`, ratio(m.diskBytesPerTx, m.rawTxBytes)])
  }
  const widths = [0, 1, 2, 3].map(i => Math.max(...rows.map(row => row[i].length)))
  const lines = rows.map(row => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd())
  lines.splice(1, 0, widths.map(w => '-'.repeat(w)).join('  '))
  for (const [name, why] of Object.entries(r.errors ?? {})) lines.push(`FAILED ${name}: ${why.split('\n')[0]}`)
  if (r.profile !== undefined) {
    lines.push('', `profile of ${r.profile.validator} (whole run of the main cluster), ${f1((r.profile.busyMs ?? 0) / 1000)} s busy, idle ${f1(r.profile.idlePct ?? 0)} % of samples; top self time as % of busy (${r.profile.file}):`)
    for (const t of r.profile.top.slice(0, 15)) lines.push(`  ${t.selfPct.toFixed(1).padStart(5)} %  ${f1(t.selfMs).padStart(8)} ms  ${t.fn}  ${t.url}`)
    lines.push('  by area:')
    for (const a of r.profile.byArea ?? []) lines.push(`  ${a.selfPct.toFixed(1).padStart(5)} %  ${f1(a.selfMs).padStart(8)} ms  ${a.area}`)
  }
  return lines.join('\n')
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

interface Series { name: string, points: Array<[number, number]> }
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf']

/** A line chart as inline SVG (no script, no external file). */
export function lineChart (title: string, xLabel: string, yLabel: string, series: Series[], opts: { logX?: boolean } = {}): string {
  const W = 640; const H = 300; const L = 60; const R = 150; const T = 30; const B = 40
  const all = series.flatMap(s => s.points).filter(p => Number.isFinite(p[0]) && Number.isFinite(p[1]))
  if (all.length === 0) return `<p>${esc(title)}: no data</p>`
  const tx = (x: number): number => opts.logX === true ? Math.log10(Math.max(x, 0.1)) : x
  const xs = all.map(p => tx(p[0])); const ys = all.map(p => p[1])
  const x0 = Math.min(...xs); const x1 = Math.max(...xs, x0 + 1e-9)
  const y1 = Math.max(...ys, 1e-9) * 1.05
  const px = (x: number): number => L + ((tx(x) - x0) / (x1 - x0 || 1)) * (W - L - R)
  const py = (y: number): number => H - B - (y / y1) * (H - T - B)
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`, `<text x="${L}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`]
  parts.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`)
  for (let i = 0; i <= 4; i++) {
    const y = (y1 * i) / 4
    parts.push(`<line x1="${L}" y1="${py(y)}" x2="${W - R}" y2="${py(y)}" stroke="#ddd"/><text x="${L - 4}" y="${py(y) + 4}" text-anchor="end">${y >= 100 ? Math.round(y) : y.toFixed(2)}</text>`)
    const xv = x0 + ((x1 - x0) * i) / 4
    const label = opts.logX === true ? 10 ** xv : xv
    parts.push(`<text x="${L + ((W - L - R) * i) / 4}" y="${H - B + 14}" text-anchor="middle">${label >= 100 ? Math.round(label) : label.toFixed(1)}</text>`)
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text><text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">${esc(yLabel)}</text>`)
  series.forEach((s, i) => {
    const pts = s.points.filter(p => Number.isFinite(p[0]) && Number.isFinite(p[1])).map(p => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ')
    parts.push(`<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.8" points="${pts}"/>`)
    parts.push(`<rect x="${W - R + 10}" y="${T + i * 16}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${W - R + 24}" y="${T + i * 16 + 9}">${esc(s.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('')
}

/** A horizontal bar chart as inline SVG. */
export function barChart (title: string, unit: string, bars: Array<{ label: string, value: number }>): string {
  const W = 640; const rowH = 22; const L = 150; const T = 30
  const H = T + bars.length * rowH + 10
  const max = Math.max(...bars.map(b => b.value), 1e-9)
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`, `<text x="10" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`]
  bars.forEach((b, i) => {
    const w = (b.value / max) * (W - L - 120)
    const y = T + i * rowH
    parts.push(`<text x="${L - 6}" y="${y + 14}" text-anchor="end">${esc(b.label)}</text><rect x="${L}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[i % COLORS.length]}"/><text x="${L + w + 6}" y="${y + 14}">${b.value.toFixed(1)} ${esc(unit)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('')
}

/** The self-contained HTML report: the table and inline SVG charts. */
export function formatHtml (r: BenchResult): string {
  const phases = [r.max, r.half].filter((p): p is PhaseResult => p !== undefined)
  const charts: string[] = []
  for (const p of phases) {
    charts.push(lineChart(`${p.name}: throughput over time`, 'seconds', 'tx/s', [
      { name: 'committed', points: p.timeline.map(b => [b.t, b.committed]) },
      { name: 'submitted', points: p.timeline.map(b => [b.t, b.submitted]) }
    ]))
    charts.push(lineChart(`${p.name}: submit→commit latency CDF`, 'latency ms (log)', 'fraction', [{ name: 'CDF', points: p.latencyCdf }], { logX: true }))
    charts.push(lineChart(`${p.name}: CPU per validator over time`, 'seconds', 'cores', p.perValidator.map((v, j) => ({ name: v.name, points: p.timeline.map(b => [b.t, b.cpu[j] ?? 0]) }))))
    charts.push(barChart(`${p.name}: CPU µs per committed tx, per validator (verify = ${r.bounds.verifyUs.toFixed(1)} µs)`, 'µs', p.perValidator.map(v => ({ label: v.name, value: v.cpuUsPerTx }))))
  }
  if (r.scale !== undefined && r.scale.length > 0) {
    charts.push(barChart('scale: committed tx/s by validator count', 'tx/s', r.scale.map(s => ({ label: `${s.validators} validators`, value: s.txPerSec }))))
  }
  const profile = r.profile === undefined
    ? ''
    : `<h2>Profile of ${esc(r.profile.validator)}</h2><table><tr><th>self %</th><th>self ms</th><th>function</th><th>where</th></tr>${r.profile.top.map(t => `<tr><td>${t.selfPct.toFixed(1)}</td><td>${t.selfMs.toFixed(1)}</td><td>${esc(t.fn)}</td><td>${esc(t.url)}</td></tr>`).join('')}</table>`
  return `<!doctype html><html><head><meta charset="utf-8"><title>medchain bench ${esc(r.startedAt)}</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}svg{display:block;margin:1em 0}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}</style></head>
<body><h1>medchain benchmark</h1><p>${esc(r.startedAt)} → ${esc(r.finishedAt)} · ${r.machine.cpus} × ${esc(r.machine.cpuModel)} · Node ${esc(r.machine.node)}</p>
<pre>${esc(formatTable(r))}</pre>${charts.join('\n')}${profile}</body></html>
`
}

/** Ratios B / A between two result files, figure by figure. */
export function formatCompare (a: BenchResult, b: BenchResult, nameA: string, nameB: string): string {
  const rows: Array<[string, number | undefined, number | undefined]> = [
    ['verify/s one core', a.bounds.verifyPerSec, b.bounds.verifyPerSec],
    ['LevelDB entries/s', a.bounds.leveldb.entriesPerSec, b.bounds.leveldb.entriesPerSec],
    ['max tx/s', a.max?.txPerSec, b.max?.txPerSec],
    ['max tx/s ÷ verify ceiling', a.max?.ceilingRatio, b.max?.ceilingRatio],
    ['max CPU µs/tx', a.max?.cpuUsPerTxMean, b.max?.cpuUsPerTxMean],
    ['max disk B/tx', a.max?.diskBytesPerTx, b.max?.diskBytesPerTx],
    ['half latency p50 ms', a.half?.latencyMs.p50, b.half?.latencyMs.p50],
    ['half latency p99 ms', a.half?.latencyMs.p99, b.half?.latencyMs.p99],
    ['half CPU µs/tx', a.half?.cpuUsPerTxMean, b.half?.cpuUsPerTxMean],
    ['catchup tx/s', a.catchup?.txPerSec, b.catchup?.txPerSec],
    ['memory peak RSS MB (max of validators)', a.memory === undefined ? undefined : Math.max(...a.memory.rssBytes.map(v => v.peakRssBytes)) / 2 ** 20, b.memory === undefined ? undefined : Math.max(...b.memory.rssBytes.map(v => v.peakRssBytes)) / 2 ** 20]
  ]
  for (const s of a.scale ?? []) {
    const t = b.scale?.find(x => x.validators === s.validators)
    rows.push([`scale ${s.validators} tx/s`, s.txPerSec, t?.txPerSec])
  }
  const fmt = (n: number | undefined): string => n === undefined ? '–' : n >= 100 ? int(n) : n.toFixed(2)
  const table: string[][] = [['figure', nameA, nameB, 'B / A']]
  for (const [name, x, y] of rows) {
    if (x === undefined && y === undefined) continue
    table.push([name, fmt(x), fmt(y), x !== undefined && y !== undefined && x !== 0 ? `${(y / x).toFixed(3)} ×` : '–'])
  }
  const widths = [0, 1, 2, 3].map(i => Math.max(...table.map(row => row[i].length)))
  return table.map(row => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}
