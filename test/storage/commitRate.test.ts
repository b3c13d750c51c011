import t from 'tap'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { encode, utf8 } from '../../codec/index.js'
import { sha256 } from '../../crypto/index.js'
import { openChainStore, type CommitBlockInput } from '../../storage/index.js'
import { CHAIN_ID, GENESIS_HASH, ZERO_HASH } from './fixtures/helpers.js'

/**
 * Measurement, reported as test comments: durable (sync) commit rate for blocks of 1,000 state
 * writes, and for ledger-shaped blocks (1,000 txs: tx index + writes + audit appends + ~250 kB
 * of block bytes). Each commitBlock is interleaved with a raw LevelDB batch of the same entries
 * in a second database, so the ratio (our cost / LevelDB's own) holds on a noisy shared machine;
 * that ratio is what is asserted.
 */
type Shape = 'writes' | 'ledger'

function block (height: number, prevHash: Uint8Array, shape: Shape): CommitBlockInput {
  const n = 1000
  const blockBytes = shape === 'ledger' ? new Uint8Array(randomBytes(250 * n)) : encode({ height })
  const writes: Array<[string, Uint8Array]> = []
  for (let i = 0; i < n; i++) writes.push([`consent/${String((height * n + i) % 50_000).padStart(8, '0')}`, new Uint8Array(randomBytes(100))])
  const txs = shape === 'ledger' ? Array.from({ length: n }, (_, index) => ({ id: sha256(utf8(`${height}/${index}`)), index, code: 'OK' })) : []
  const appends: Array<[string, Uint8Array]> = shape === 'ledger'
    ? Array.from({ length: n }, (_, i) => [`audit/${String(i % 97).padStart(4, '0')}/${String(height).padStart(12, '0')}/${String(i).padStart(6, '0')}`, new Uint8Array(randomBytes(80))])
    : []
  return { height, hash: sha256(blockBytes, utf8(String(height))), prevHash, stateRoot: sha256(utf8(`root ${height}`)), time: height, blockBytes, commitBytes: new Uint8Array(randomBytes(400)), txs, writes, appends }
}

/** The same entries as raw LevelDB puts, for the baseline. */
function rawOps (b: CommitBlockInput): Array<{ type: 'put', key: Uint8Array, value: Uint8Array }> {
  const ops: Array<{ type: 'put', key: Uint8Array, value: Uint8Array }> = [{ type: 'put', key: utf8(`b${b.height}`), value: b.blockBytes }]
  for (const [k, v] of b.writes) ops.push({ type: 'put', key: utf8(`s${k}`), value: v as Uint8Array })
  for (const [k, v] of b.appends) ops.push({ type: 'put', key: utf8(`a${k}`), value: v })
  for (const tx of b.txs) ops.push({ type: 'put', key: tx.id as Uint8Array, value: encode({ height: b.height, index: tx.index, code: tx.code }) })
  return ops
}

async function measure (dir: string, shape: Shape, count: number): Promise<{ blocksPerSecond: number, entriesPerSecond: number, entriesPerBlock: number, ratio: number }> {
  const store = await openChainStore(join(dir, 'store'), { chainId: CHAIN_ID, genesisHash: GENESIS_HASH })
  const raw = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'raw'), { keyEncoding: 'view', valueEncoding: 'view' })
  await raw.open()
  const blocks: CommitBlockInput[] = []
  let prev: Uint8Array = ZERO_HASH
  for (let h = 1; h <= count; h++) { const b = block(h, prev, shape); blocks.push(b); prev = b.hash }
  const raws = blocks.map(rawOps)
  const entriesPerBlock = 1000 + (shape === 'ledger' ? 2000 : 0) + 5 // + block, summary, hash index, commit, head
  let ours = 0n
  let theirs = 0n
  for (let i = 0; i < count; i++) {
    const s0 = process.hrtime.bigint()
    await store.commitBlock(blocks[i])
    const s1 = process.hrtime.bigint()
    await raw.batch(raws[i], { sync: true })
    theirs += process.hrtime.bigint() - s1
    ours += s1 - s0
  }
  await store.close()
  await raw.close()
  const seconds = Number(ours) / 1e9
  return { blocksPerSecond: count / seconds, entriesPerBlock, entriesPerSecond: count * entriesPerBlock / seconds, ratio: Number(ours) / Number(theirs) }
}

t.test('durable commit rate', async t => {
  const dir = t.testdir()
  const plain = await measure(join(dir, 'plain'), 'writes', 15)
  t.comment(`commitBlock, 1,000 state writes per block, sync: ${plain.blocksPerSecond.toFixed(1)} blocks/s, ${Math.round(plain.entriesPerSecond)} entries/s; ${plain.ratio.toFixed(2)}x a raw LevelDB batch of the same entries`)
  const ledger = await measure(join(dir, 'ledger'), 'ledger', 8)
  t.comment(`commitBlock, ledger-shaped (1,000 txs: ${ledger.entriesPerBlock} entries, ~250 kB block), sync: ${ledger.blocksPerSecond.toFixed(1)} blocks/s, ${Math.round(ledger.entriesPerSecond)} entries/s, ${Math.round(ledger.blocksPerSecond * 1000)} tx/s; ${ledger.ratio.toFixed(2)}x raw`)
  t.ok(plain.ratio < 3, 'commitBlock costs less than 3x a raw batch of the same writes')
  t.ok(ledger.ratio < 3, 'ledger-shaped commitBlock costs less than 3x a raw batch')
})
