import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decode, encode, toHex, utf8 } from '../../codec/index.js'
import { sha256 } from '../../crypto/index.js'
import { openChainStore, StorageError, type StorageMetrics } from '../../storage/index.js'
import { CHAIN_ID, GENESIS_HASH, ZERO_HASH, collect, commitChain, hashBlock, makeBlock, txId } from './fixtures/helpers.js'

const open = async (dir: string, extra: Record<string, unknown> = {}) =>
  await openChainStore(dir, { chainId: CHAIN_ID, genesisHash: GENESIS_HASH, hashBlock, ...extra })

t.test('fresh store: no head, empty repositories', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  t.equal(store.head(), null)
  t.equal(await store.blocks.get(1), undefined)
  t.equal(await store.blocks.getSummary(1), undefined)
  t.equal(await store.txIndex.get(txId(1, 0)), undefined)
  t.same(await collect(store.state.entries()), [])
  t.equal(await store.latestCommit(), undefined)
})

t.test('commitBlock round trip through every repository', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  const b1 = makeBlock(1, ZERO_HASH)
  const head = await store.commitBlock(b1)
  t.same(head, { height: 1, hash: b1.hash, stateRoot: b1.stateRoot })
  t.same(store.head(), head)

  t.same(await store.blocks.get(1), b1.blockBytes)
  t.same(await store.blocks.getSummary(1), { hash: b1.hash, prevHash: ZERO_HASH, stateRoot: b1.stateRoot, time: b1.time, txCount: 3 })
  t.equal(await store.blocks.hashToHeight(b1.hash), 1)
  t.equal(await store.blocks.hashToHeight(sha256(utf8('nope'))), undefined)
  t.same(await store.blocks.getCommit(1), b1.commitBytes)
  t.same(await store.latestCommit(), { height: 1, commit: b1.commitBytes })

  t.same(await store.txIndex.get(txId(1, 0)), { height: 1, index: 0, code: 'OK' })
  t.same(await store.txIndex.get(toHex(txId(1, 1))), { height: 1, index: 1, code: 'DENIED' })
  t.equal(await store.txIndex.has(txId(2, 0)), false)

  t.equal(decode(await store.state.get('counter') as Uint8Array), 1)
  t.equal(decode(await store.state.get('k/000004') as Uint8Array), 1)
  // appends are readable by key too
  t.ok(await store.state.get('audit/p1/000000000001/000000'))

  const b2 = makeBlock(2, b1.hash, { writeCount: 2, deletes: ['k/000004'] })
  await store.commitBlock(b2)
  t.equal(decode(await store.state.get('counter') as Uint8Array), 2)
  t.equal(decode(await store.state.get('k/000003') as Uint8Array), 1, 'untouched key keeps its value')
  t.equal(await store.state.get('k/000004'), undefined, 'deleted key is gone')
  t.equal((await store.blocks.getSummary(2))?.txCount, 3)
})

t.test('state.entries streams mutable state only, in key order', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  await commitChain(store, 3, { writeCount: 3 })
  const entries = await collect(store.state.entries())
  t.same(entries.map(([k]) => k), ['counter', 'k/000000', 'k/000001', 'k/000002'])
  t.same(entries.map(([, v]) => decode(v)), [3, 3, 3, 3])
})

t.test('state.readSync sees exactly what commitBlock made durable; keys lists mutable keys only', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  t.equal(store.state.readSync('counter'), undefined, 'nothing before the first block')
  const b1 = makeBlock(1, ZERO_HASH)
  await store.commitBlock(b1)
  t.equal(decode(store.state.readSync('counter')!), 1)
  t.equal(decode(store.state.readSync('k/000004')!), 1)
  t.equal(store.state.readSync('audit/p1/000000000001/000000'), undefined, 'append records are not ledger state')
  await store.commitBlock(makeBlock(2, b1.hash, { writeCount: 2, deletes: ['k/000004'] }))
  t.equal(decode(store.state.readSync('counter')!), 2, 'the next block is visible at once after its commit')
  t.equal(store.state.readSync('k/000004'), undefined, 'a deleted key reads as absent')
  t.same(await collect(store.state.keys()), (await collect(store.state.entries())).map(([k]) => k))
  t.throws(() => store.state.readSync(''), { code: 'STORE_BAD_INPUT' })
  await store.close()
  t.throws(() => store.state.readSync('counter'), { code: 'STORE_CLOSED' }, 'a closed store refuses reads instead of answering stale data')
})

t.test('scanPrefix merges state and appends, pages, reverses, bounds', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  await commitChain(store, 4, { txCount: 2, writeCount: 0 })
  const b5 = makeBlock(5, store.head()!.hash, { txCount: 1, writeCount: 0 })
  b5.writes = [...b5.writes, ['audit/p1/000000000003/000000x', encode('mutable')]] // sorts between appends of height 3 and 4
  await store.commitBlock(b5)
  const all = (await collect(store.state.scanPrefix('audit/p1/'))).map(([k]) => k)
  t.same(all, [
    'audit/p1/000000000001/000000', 'audit/p1/000000000001/000001',
    'audit/p1/000000000002/000000', 'audit/p1/000000000002/000001',
    'audit/p1/000000000003/000000', 'audit/p1/000000000003/000000x', 'audit/p1/000000000003/000001',
    'audit/p1/000000000004/000000', 'audit/p1/000000000004/000001',
    'audit/p1/000000000005/000000'
  ])
  const page1 = (await collect(store.state.scanPrefix('audit/p1/', { limit: 4 }))).map(([k]) => k)
  t.same(page1, all.slice(0, 4))
  const page2 = (await collect(store.state.scanPrefix('audit/p1/', { limit: 4, after: page1[3] }))).map(([k]) => k)
  t.same(page2, all.slice(4, 8))
  const rev = (await collect(store.state.scanPrefix('audit/p1/', { reverse: true, limit: 3 }))).map(([k]) => k)
  t.same(rev, all.slice().reverse().slice(0, 3))
  const revPage = (await collect(store.state.scanPrefix('audit/p1/', { reverse: true, after: rev[2], limit: 100 }))).map(([k]) => k)
  t.same(revPage, all.slice().reverse().slice(3))
  t.same(await collect(store.state.scanPrefix('audit/p2/')), [])
  t.same((await collect(store.state.scanPrefix('coun'))).map(([k]) => k), ['counter'])
  await t.rejects(collect(store.state.scanPrefix('a', { limit: -1 })), { code: 'STORE_BAD_INPUT' })
})

t.test('getRange returns blocks in height order within the byte budget', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  await commitChain(store, 10)
  const all = await store.blocks.getRange(1, 10, 1 << 20)
  t.same(all.map(b => b.height), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  t.same(all[4].block, await store.blocks.get(5))
  t.same(all[4].commit, await store.blocks.getCommit(5))
  const one = all[0].block.length + (all[0].commit?.length ?? 0)
  const budget = await store.blocks.getRange(3, 10, one * 3 + 1)
  t.same(budget.map(b => b.height), [3, 4, 5], 'stops before passing maxBytes')
  t.same((await store.blocks.getRange(3, 10, 1)).map(b => b.height), [3], 'at least one block')
  t.same((await store.blocks.getRange(8, 20, 1 << 20)).map(b => b.height), [8, 9, 10], 'stops at the head')
  t.same(await store.blocks.getRange(11, 20, 1 << 20), [])
  t.same(await store.blocks.getRange(5, 4, 1 << 20), [])
})

t.test('commitBlock refuses blocks that do not extend the head', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  await t.rejects(store.commitBlock(makeBlock(2, ZERO_HASH)), { code: 'STORE_OUT_OF_ORDER' })
  const b1 = makeBlock(1, ZERO_HASH)
  await store.commitBlock(b1)
  await t.rejects(store.commitBlock(makeBlock(1, ZERO_HASH)), { code: 'STORE_OUT_OF_ORDER' }, 'same height twice')
  await t.rejects(store.commitBlock(makeBlock(2, sha256(utf8('other')))), { code: 'STORE_OUT_OF_ORDER' }, 'wrong prevHash')
  await t.rejects(store.commitBlock({ ...makeBlock(2, b1.hash), hash: new Uint8Array(31) }), { code: 'STORE_BAD_INPUT' })
  t.equal(store.head()?.height, 1)
})

t.test('a rejected commit writes nothing: validation happens before the batch', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  const b1 = makeBlock(1, ZERO_HASH)
  await store.commitBlock(b1)
  const bad = makeBlock(2, b1.hash)
  bad.writes = [...bad.writes, ['late', 'not bytes' as unknown as Uint8Array]]
  await t.rejects(store.commitBlock(bad), { code: 'STORE_BAD_INPUT' })
  t.equal(store.head()?.height, 1)
  t.equal(await store.blocks.get(2), undefined)
  t.equal(await store.txIndex.get(txId(2, 0)), undefined)
  t.equal(decode(await store.state.get('counter') as Uint8Array), 1)
  await store.commitBlock(makeBlock(2, b1.hash))
  t.equal(store.head()?.height, 2)
})

t.test('concurrent commits are serialised in call order', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  const b1 = makeBlock(1, ZERO_HASH)
  const b2 = makeBlock(2, b1.hash)
  const b3 = makeBlock(3, b2.hash)
  await Promise.all([store.commitBlock(b1), store.commitBlock(b2), store.commitBlock(b3)])
  t.equal(store.head()?.height, 3)
})

t.test('putCommit stores a certificate that became known later', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  const b1 = makeBlock(1, ZERO_HASH, { withCommit: false })
  await store.commitBlock(b1)
  t.equal(await store.blocks.getCommit(1), undefined)
  t.equal(await store.latestCommit(), undefined)
  await store.putCommit(1, encode('late cert'))
  t.same(await store.latestCommit(), { height: 1, commit: encode('late cert') })
  await t.rejects(store.putCommit(2, encode('x')), { code: 'STORE_OUT_OF_ORDER' })
})

t.test('reopen gives the same head, blocks and state', async t => {
  const dir = t.testdir()
  let store = await open(dir)
  const last = await commitChain(store, 25)
  const head = store.head()
  const entries = await collect(store.state.entries())
  await store.close()
  await t.rejects(store.blocks.get(1), { code: 'STORE_CLOSED' })
  store = await open(dir)
  t.teardown(() => store.close())
  t.same(store.head(), head)
  t.same(await collect(store.state.entries()), entries)
  t.same(await store.blocks.get(25), last.blockBytes)
  t.equal(store.lastIntegrityReport.summariesChecked, 25)
  await store.commitBlock(makeBlock(26, last.hash))
  t.equal(store.head()?.height, 26)
})

t.test('a store of another chain is refused, naming both chains', async t => {
  const dir = t.testdir()
  const store = await open(dir)
  await commitChain(store, 1)
  await store.close()
  const err = await openChainStore(dir, { chainId: 'other-chain', genesisHash: GENESIS_HASH }).catch(e => e)
  t.ok(err instanceof StorageError)
  t.equal(err.code, 'STORE_WRONG_CHAIN')
  t.match(err.message, /medchain-test/)
  t.match(err.message, /other-chain/)
  const otherGenesis = sha256(utf8('another genesis'))
  const err2 = await openChainStore(dir, { chainId: CHAIN_ID, genesisHash: otherGenesis }).catch(e => e)
  t.equal(err2.code, 'STORE_WRONG_CHAIN')
  t.match(err2.message, toHex(GENESIS_HASH))
  t.match(err2.message, toHex(otherGenesis))
  const again = await open(dir) // the right chain still opens
  t.equal(again.head()?.height, 1)
  await again.close()
})

t.test('a store opened twice is STORE_LOCKED; a file in place of the dir is STORE_OPEN_FAILED', async t => {
  const dir = t.testdir({ 'not-a-dir': 'x' })
  const store = await open(dir)
  t.teardown(() => store.close())
  await t.rejects(open(dir), { code: 'STORE_LOCKED' })
  await t.rejects(open(join(dir, 'not-a-dir')), { code: 'STORE_OPEN_FAILED' })
  writeFileSync(join(dir, 'x'), '')
})

t.test('metrics hook sees every durable write', async t => {
  const seen: Array<[string, number, number]> = []
  let integrity = 0
  const metrics: StorageMetrics = {
    observeWrite (kind, seconds, bytes) { seen.push([kind, seconds, bytes]) },
    observeIntegrityCheck () { integrity++ }
  }
  const store = await open(t.testdir(), { metrics })
  t.teardown(() => store.close())
  // first save on a fresh home: the fresh state is claimed, then the new one written
  await store.signerState.save({ height: 1, round: 0, step: 1, signBytesHash: sha256(utf8('p')) })
  await commitChain(store, 2)
  await store.wal.append(3, utf8('vote'))
  await store.putCommit(2, encode('cert'))
  t.same(seen.map(s => s[0]), ['signerState', 'signerState', 'commitBlock', 'commitBlock', 'wal', 'putCommit'])
  t.ok(seen.every(([, s, b]) => s >= 0 && b > 0))
  t.equal(integrity, 1)
})
