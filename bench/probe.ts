import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux x86 and arm). */
const CLK_TCK = 100

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; null if gone. */
export function cpuSeconds (pid: number): number | null {
  let text: string
  try { text = readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { return null }
  // The command name (field 2) may hold spaces: parse after its closing parenthesis.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return (utime + stime) / CLK_TCK
}

/** Resident set size in bytes, from /proc/<pid>/status VmRSS; null if gone. */
export function rssBytes (pid: number): number | null {
  let text: string
  try { text = readFileSync(`/proc/${pid}/status`, 'utf8') } catch { return null }
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text)
  return m === null ? null : Number(m[1]) * 1024
}

/** Bytes of every file under dir (what `du -sb` counts), 0 if absent. */
export function diskBytes (dir: string): number {
  let total = 0
  let entries: string[]
  try { entries = readdirSync(dir) } catch { return 0 }
  for (const name of entries) {
    const p = join(dir, name)
    try {
      const st = statSync(p)
      total += st.isDirectory() ? diskBytes(p) : st.size
    } catch {}
  }
  return total
}

/** Seconds a node has spent on the state commitment (medchain_state_commit_seconds_total); 0 if not exported. */
export async function stateCommitSeconds (api: string): Promise<number> {
  const text = await (await fetch(`${api}/metrics`)).text()
  return metricValue(text, 'medchain_state_commit_seconds_total') ?? 0
}

/** One Prometheus text-format sample value (no labels, or an exact label string). */
export function metricValue (text: string, name: string, labels = ''): number | null {
  const needle = labels === '' ? `${name} ` : `${name}{${labels}} `
  for (const line of text.split('\n')) {
    if (line.startsWith(needle)) return Number(line.slice(needle.length).trim().split(' ')[0])
  }
  return null
}

export interface ChainCounters { height: number, blocks: number, txs: number, roundsSum: number, roundsCount: number, timeouts: number, syncBlocks: number }

/** Chain figures from a node's metrics listener URL: height, blocks, rounds per height, timeouts. */
export async function chainCounters (metricsUrl: string): Promise<ChainCounters> {
  const text = await (await fetch(metricsUrl)).text()
  let timeouts = 0
  let txs = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('medchain_consensus_timeouts_total{')) timeouts += Number(line.split(' ').pop())
    if (line.startsWith('medchain_chain_txs_committed_total{')) txs += Number(line.split(' ').pop())
  }
  return {
    height: metricValue(text, 'medchain_chain_height') ?? 0,
    blocks: metricValue(text, 'medchain_chain_blocks_committed_total') ?? 0,
    txs,
    roundsSum: metricValue(text, 'medchain_consensus_rounds_per_height_sum') ?? 0,
    roundsCount: metricValue(text, 'medchain_consensus_rounds_per_height_count') ?? 0,
    timeouts,
    syncBlocks: metricValue(text, 'medchain_sync_blocks_applied_total') ?? 0
  }
}
