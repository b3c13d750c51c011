import t from 'tap'
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { utf8 } from '../../codec/index.js'
import { sha256 } from '../../crypto/index.js'
import { openChainStore, storePaths, StorageError, FRESH_SIGNER_STATE, type SignerState } from '../../storage/index.js'
import { CHAIN_ID, GENESIS_HASH, commitChain } from './fixtures/helpers.js'

const open = async (dir: string) => await openChainStore(dir, { chainId: CHAIN_ID, genesisHash: GENESIS_HASH })
const st = (height: number, round: number, step: number, what = 'block'): SignerState =>
  ({ height, round, step, signBytesHash: sha256(utf8(`${what} ${height}/${round}/${step}`)) })

t.test('fresh home: load is null; save then load round trips across reopen', async t => {
  const dir = t.testdir()
  let store = await open(dir)
  t.equal(await store.signerState.load(), null)
  await store.signerState.save(st(1, 0, 1))
  await store.signerState.save(st(1, 0, 2))
  t.same(await store.signerState.load(), st(1, 0, 2))
  await store.close()
  store = await open(dir)
  t.teardown(() => store.close())
  t.same(await store.signerState.load(), st(1, 0, 2))
})

t.test('save refuses regressions and conflicting sign bytes, allows identical re-saves', async t => {
  const dir = t.testdir()
  let store = await open(dir)
  await store.signerState.save(st(5, 2, 2))
  await store.signerState.save(st(5, 2, 2)) // same HRS, same bytes: idempotent
  await t.rejects(store.signerState.save(st(5, 2, 1)), { code: 'SIGNER_REGRESSION' })
  await t.rejects(store.signerState.save(st(5, 1, 3)), { code: 'SIGNER_REGRESSION' })
  await t.rejects(store.signerState.save(st(4, 9, 3)), { code: 'SIGNER_REGRESSION' })
  await t.rejects(store.signerState.save(st(5, 2, 2, 'other block')), { code: 'SIGNER_CONFLICT' })
  t.same(await store.signerState.load(), st(5, 2, 2), 'refused saves changed nothing')
  await store.close()
  // the rule also holds after a restart, without an explicit load first
  store = await open(dir)
  t.teardown(() => store.close())
  await t.rejects(store.signerState.save(st(5, 2, 2, 'other block')), { code: 'SIGNER_CONFLICT' })
  await store.signerState.save(st(5, 3, 1))
  await store.signerState.save(st(6, 0, 1))
  t.same(await store.signerState.load(), st(6, 0, 1))
  await t.rejects(store.signerState.save({ ...st(7, 0, 1), signBytesHash: new Uint8Array(31) }), { code: 'STORE_BAD_INPUT' })
})

t.test('fail closed: chain with blocks but no signer state refuses to load', async t => {
  const dir = t.testdir()
  let store = await open(dir)
  await store.signerState.save(st(1, 0, 1))
  await commitChain(store, 3)
  await store.close()
  rmSync(storePaths(dir).signerState)
  store = await open(dir)
  t.teardown(() => store.close())
  const err = await store.signerState.load().catch((e: unknown) => e)
  t.ok(err instanceof StorageError)
  t.equal((err as StorageError).code, 'SIGNER_STATE_MISSING')
  t.match((err as StorageError).message, /height 3/)
  await t.rejects(store.signerState.save(st(4, 0, 1)), { code: 'SIGNER_STATE_MISSING' }, 'save does not silently recreate it')
  t.notOk(existsSync(storePaths(dir).signerState))
  await t.rejects(store.resetSignerState(), { code: 'SIGNER_RESET_REFUSED' })
  await store.resetSignerState({ force: true }) // the operator's explicit decision
  t.same(await store.signerState.load(), FRESH_SIGNER_STATE)
  await store.signerState.save(st(4, 0, 1))
})

t.test('fail closed: truncated, bit-flipped or garbage signer state is SIGNER_STATE_CORRUPT', async t => {
  const dir = t.testdir()
  const store = await open(dir)
  t.teardown(() => store.close())
  await store.signerState.save(st(9, 1, 3))
  const path = storePaths(dir).signerState
  const good = readFileSync(path)
  const variants: Array<[string, Uint8Array]> = [
    ['truncated', good.subarray(0, good.length - 3)],
    ['empty', new Uint8Array(0)],
    ['bit flip in the body', (() => { const b = Buffer.from(good); b[b.length - 5] ^= 0x10; return b })()],
    ['bad magic', (() => { const b = Buffer.from(good); b[0] = 0; return b })()],
    ['garbage', utf8('{"height": 0}')]
  ]
  for (const [what, bytes] of variants) {
    writeFileSync(path, bytes)
    const err = await store.signerState.load().catch((e: unknown) => e)
    t.equal((err as StorageError).code, 'SIGNER_STATE_CORRUPT', what)
    await t.rejects(store.signerState.save(st(10, 0, 1)), { code: 'SIGNER_STATE_CORRUPT' }, `${what}: save refuses too`)
  }
  writeFileSync(path, good)
  t.same(await store.signerState.load(), st(9, 1, 3), 'restoring the file restores signing')
})

t.test('the opaque payload (consensus sign state with its lock) round trips', async t => {
  const dir = t.testdir()
  let store = await open(dir)
  const payload = utf8('locked value + round, as consensus encodes it')
  await store.signerState.save({ ...st(3, 1, 2), payload })
  await store.close()
  store = await open(dir)
  t.teardown(() => store.close())
  t.same(await store.signerState.load(), { ...st(3, 1, 2), payload })
  await t.rejects(store.signerState.save({ ...st(3, 1, 3), payload: new Uint8Array(1025) }), { code: 'STORE_BAD_INPUT' })
})

t.test('a fresh home claims the signer file at first load: syncing blocks without signing then restarting is fine', async t => {
  const dir = t.testdir()
  let store = await open(dir)
  t.equal(await store.signerState.load(), null)
  t.ok(existsSync(storePaths(dir).signerState), 'fresh state written')
  await commitChain(store, 5) // blocks from sync: this node signed nothing
  await store.close()
  store = await open(dir)
  t.teardown(() => store.close())
  t.same(await store.signerState.load(), FRESH_SIGNER_STATE)
  await store.signerState.save(st(6, 0, 1))
})

t.test('reset of a fresh home is allowed', async t => {
  const store = await open(t.testdir())
  t.teardown(() => store.close())
  await store.resetSignerState()
  t.same(await store.signerState.load(), FRESH_SIGNER_STATE)
  await store.signerState.save(st(1, 0, 1))
})
