import t, { type Test } from 'tap'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { decode, encode, utf8 } from '../../codec/index.js'
import { sha256 } from '../../crypto/index.js'
import { Bucket, openChainStore, storePaths, StorageError } from '../../storage/index.js'
import { MetaKey } from '../../storage/buckets.js'
import { bucketKey, heightKey } from '../../storage/keys.js'
import { CHAIN_ID, GENESIS_HASH, commitChain, hashBlock } from './fixtures/helpers.js'

const open = async (dir: string, extra: Record<string, unknown> = {}) =>
  await openChainStore(dir, { chainId: CHAIN_ID, genesisHash: GENESIS_HASH, hashBlock, ...extra })

const HEAD_KEY = bucketKey(Bucket.meta, Uint8Array.of(MetaKey.head))

/** A closed store of `blocks` blocks, and a way to tamper with its LevelDB directly. */
async function damaged (t: Test, blocks: number, damage: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>): Promise<string> {
  const dir = t.testdir()
  const store = await open(dir)
  await commitChain(store, blocks)
  await store.close()
  const db = new ClassicLevel<Uint8Array, Uint8Array>(storePaths(dir).db, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  await damage(db)
  await db.close()
  return dir
}

async function expectCorrupt (t: Test, dir: string, pattern: RegExp, extra: Record<string, unknown> = {}): Promise<void> {
  const err = await open(dir, extra).then(async s => { await s.close(); return undefined }, (e: unknown) => e)
  t.ok(err instanceof StorageError, 'refused with a StorageError')
  t.equal((err as StorageError).code, 'STORE_CORRUPT')
  t.match((err as StorageError).message, pattern)
}

t.test('an intact store passes, and verifyIntegrity can be re-run', async t => {
  const dir = await damaged(t, 12, async () => {})
  const store = await open(dir)
  t.teardown(() => store.close())
  const report = await store.verifyIntegrity({ depth: 5 })
  t.equal(report.summariesChecked, 5)
  t.equal(report.blocksScanned, 12)
})

t.test('a deleted block is STORE_CORRUPT', async t => {
  const dir = await damaged(t, 10, async db => { await db.del(heightKey(Bucket.blockBytes, 4)) })
  await expectCorrupt(t, dir, /block 4 is missing/)
})

t.test('block presence: block 1 always, older heights with a full scan', async t => {
  const dir = await damaged(t, 12, async db => { await db.del(heightKey(Bucket.blockBytes, 3)) })
  // outside a 5-height window the hole is not seen at open...
  const store = await open(dir, { blockScanDepth: 5 })
  t.equal(store.lastIntegrityReport.blocksScanned, 5)
  // ...but a full check finds it
  await t.rejects(store.verifyIntegrity({ blockScanDepth: Infinity }), { code: 'STORE_CORRUPT', message: /block 3 is missing/ })
  await store.close()
  await expectCorrupt(t, dir, /block 3 is missing/) // default window covers it
  const dir1 = await damaged(t, 12, async db => { await db.del(heightKey(Bucket.blockBytes, 1)) })
  await expectCorrupt(t, dir1, /block 1 is missing/, { blockScanDepth: 5 })
})

t.test('a deleted head block is STORE_CORRUPT', async t => {
  const dir = await damaged(t, 10, async db => { await db.del(heightKey(Bucket.blockBytes, 10)) })
  await expectCorrupt(t, dir, /block 10 is missing/)
})

t.test('a broken hash link between summaries is STORE_CORRUPT', async t => {
  const dir = await damaged(t, 10, async db => {
    const key = heightKey(Bucket.blockSummary, 6)
    const summary = decode(await db.get(key) as Uint8Array) as Record<string, unknown>
    await db.put(key, encode({ ...summary, prevHash: sha256(utf8('forged')) }))
  })
  await expectCorrupt(t, dir, /hash link broken at height 6/)
})

t.test('flipped bytes in a header summary are STORE_CORRUPT', async t => {
  const dir = await damaged(t, 10, async db => {
    const key = heightKey(Bucket.blockSummary, 7)
    const bytes = (await db.get(key) as Uint8Array).slice()
    bytes[0] ^= 0xff
    await db.put(key, bytes)
  })
  await expectCorrupt(t, dir, /header summary at height 7/)
})

t.test('a head whose state root differs from its summary is STORE_CORRUPT', async t => {
  const dir = await damaged(t, 10, async db => {
    const head = decode(await db.get(HEAD_KEY) as Uint8Array) as Record<string, unknown>
    await db.put(HEAD_KEY, encode({ ...head, stateRoot: sha256(utf8('other root')) }))
  })
  await expectCorrupt(t, dir, /state root/)
})

t.test('a head pointing past the stored blocks is STORE_CORRUPT', async t => {
  const dir = await damaged(t, 10, async db => {
    const head = decode(await db.get(HEAD_KEY) as Uint8Array) as Record<string, unknown>
    await db.put(HEAD_KEY, encode({ ...head, height: 11 }))
  })
  await expectCorrupt(t, dir, /block 11 is missing/)
})

t.test('a block above the head is STORE_CORRUPT', async t => {
  const dir = await damaged(t, 10, async db => { await db.put(heightKey(Bucket.blockBytes, 11), utf8('stray')) })
  await expectCorrupt(t, dir, /above the head/)
})

t.test('blocks without a head record are STORE_CORRUPT', async t => {
  const dir = await damaged(t, 3, async db => { await db.del(HEAD_KEY) })
  await expectCorrupt(t, dir, /no chain head/)
})

t.test('block bytes that no longer hash to the summary hash are STORE_CORRUPT (with hashBlock)', async t => {
  const dir = await damaged(t, 10, async db => {
    const key = heightKey(Bucket.blockBytes, 9)
    const bytes = (await db.get(key) as Uint8Array).slice()
    bytes[bytes.length - 1] ^= 1
    await db.put(key, bytes)
  })
  await expectCorrupt(t, dir, /block bytes at height 9 hash to/)
  // without the hasher the summaries alone are consistent, so the store opens
  const store = await openChainStore(dir, { chainId: CHAIN_ID, genesisHash: GENESIS_HASH })
  t.equal(store.head()?.height, 10)
  await store.close()
})

t.test('a hash index that lost the head is STORE_CORRUPT', async t => {
  const dir = await damaged(t, 5, async db => {
    const head = decode(await db.get(HEAD_KEY) as Uint8Array) as { hash: Uint8Array }
    await db.del(bucketKey(Bucket.blockHashToHeight, head.hash))
  })
  await expectCorrupt(t, dir, /hash index/)
})

t.test('damage to LevelDB files is refused, never served', async t => {
  const dir = t.testdir()
  const store = await open(dir)
  await commitChain(store, 40, { writeCount: 50 })
  await store.close()
  // Overwrite the middle of every LevelDB data file (the write-ahead .log and any .ldb table).
  const dbDir = storePaths(dir).db
  let damagedFiles = 0
  for (const name of readdirSync(dbDir)) {
    if (!/\.(log|ldb)$/.test(name)) continue
    const path = join(dbDir, name)
    if (statSync(path).size < 1024) continue
    const bytes = readFileSync(path)
    bytes.fill(0x5a, Math.floor(bytes.length / 3), Math.floor(bytes.length / 3) + 256)
    writeFileSync(path, bytes)
    damagedFiles++
  }
  t.ok(damagedFiles > 0, 'found LevelDB files to damage')
  await expectCorrupt(t, dir, /./)
  const err = await open(dir).catch((e: StorageError) => e)
  t.comment(`LevelDB damage reported as: ${(err as StorageError).message.slice(0, 160)}`)
})
