import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { decode } from '../../codec/index.js'
import { openChainStore } from '../../storage/index.js'
import { CHAIN_ID, GENESIS_HASH, collect, hashBlock, txId } from './fixtures/helpers.js'

const child = fileURLToPath(new URL('./fixtures/commitLoop.ts', import.meta.url))

// Only the TypeScript loader and the polyfill: tap's coverage/mock hooks double the child's start time.
const loaderArgs = process.execArgv.filter(a => a.includes('@tapjs/typescript') || a.includes('polyfill'))

/** Runs the commit loop in a real process and SIGKILLs it after `afterCommits` acknowledged commits plus a random delay. */
async function runAndKill (dir: string, afterCommits: number, extraDelayMs: number, whileRunning?: () => Promise<void>): Promise<number> {
  // Transpile-only: the child is type-checked with the rest of the tests; this keeps its start under 2 s.
  const proc = spawn(process.execPath, [...loaderArgs, child, dir], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' } })
  let acknowledged = 0
  let seen = 0
  let buf = ''
  const exited = new Promise<void>(resolve => proc.on('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString()
      const lines = buf.split('\n')
      buf = lines.pop() as string
      for (const line of lines) {
        acknowledged = Number(line)
        if (++seen === afterCommits) {
          void (whileRunning ?? (async () => {}))().then(() => {
            setTimeout(() => { proc.kill('SIGKILL'); resolve() }, extraDelayMs)
          }, reject)
        }
      }
    })
    proc.on('exit', code => { if (seen < afterCommits) reject(new Error(`child exited early with ${String(code)}`)) })
  })
  await exited
  return acknowledged
}

t.test('SIGKILL during commits: every acknowledged block survives, no block lands half', async t => {
  const dir = t.testdir()
  const delays = [0, 4]
  for (const [round, delay] of delays.entries()) {
    const acknowledged = await runAndKill(dir, 15, delay, round > 0 ? undefined : async () => {
      // another process holds the store: refused with STORE_LOCKED, not opened twice
      await t.rejects(openChainStore(dir, { chainId: CHAIN_ID, genesisHash: GENESIS_HASH }), { code: 'STORE_LOCKED' }, 'locked while the other process runs')
    })
    const store = await openChainStore(dir, { chainId: CHAIN_ID, genesisHash: GENESIS_HASH, hashBlock })
    const head = store.head()
    t.ok(head !== null && head.height >= acknowledged, `round ${round}: head ${head?.height} >= last acknowledged ${acknowledged}`)
    const h = head?.height ?? 0
    // The whole block landed: every state key, the tx index and the appends say the head height.
    const entries = await collect(store.state.entries())
    t.equal(entries.length, 301)
    t.ok(entries.every(([, v]) => decode(v) === h), `round ${round}: all 301 state entries are from block ${h}`)
    t.same(await store.txIndex.get(txId(h, 19)), { height: h, index: 19, code: 'DENIED' })
    t.equal(await store.txIndex.get(txId(h + 1, 0)), undefined, 'nothing of the next block')
    t.equal((await collect(store.state.scanPrefix('audit/', { limit: 1_000_000 }))).length, 20 * h)
    await store.close()
  }
})
