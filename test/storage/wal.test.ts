import t from 'tap'
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { utf8 } from '../../codec/index.js'
import { ConsensusWal, crc32, encodeWalRecord, parseWal, StorageError, encodeTagged, decodeTagged } from '../../storage/index.js'
import { WAL_TAG, blockHash, encodeLockProof, encodeMessage } from '../../consensus/index.js'
import { readConsensusWal, decodeWalEntry } from '../../node/driver.js'
import { makeBlock, proposal, vote } from '../consensus/harness.js'

const rec = (i: number): Uint8Array => utf8(`record ${i} `.repeat(i + 1))
const walFile = (dir: string, height: number): string => join(dir, `${String(height).padStart(16, '0')}.wal`)

t.test('crc32 matches the IEEE check value', async t => {
  t.equal(crc32(utf8('123456789')), 0xcbf43926)
  t.equal(crc32(new Uint8Array(0)), 0)
  t.equal(crc32(utf8('56789'), crc32(utf8('1234'))), 0xcbf43926, 'chains over parts')
})

t.test('append then records round trip, per height, in order', async t => {
  const dir = t.testdir()
  const wal = await ConsensusWal.open(dir)
  for (let i = 0; i < 5; i++) await wal.append(7, rec(i))
  await wal.append(8, rec(99))
  await wal.append(7, utf8('')) // empty payloads are records too
  t.same(await wal.records(7), [rec(0), rec(1), rec(2), rec(3), rec(4), new Uint8Array(0)])
  t.same(await wal.records(8), [rec(99)])
  t.same(await wal.records(9), [])
  t.same(await wal.heights(), [7, 8])
  await wal.close()
  await t.rejects(wal.append(7, rec(0)), { code: 'STORE_CLOSED' })
  const reopened = await ConsensusWal.open(dir)
  t.same((await reopened.records(7)).length, 6, 'survives reopen')
  await reopened.close()
})

t.test('a torn last record is truncated; appends continue after it', async t => {
  const dir = t.testdir()
  const wal = await ConsensusWal.open(dir)
  for (let i = 0; i < 3; i++) await wal.append(5, rec(i))
  await wal.close()
  const path = walFile(dir, 5)
  const clean = statSync(path).size
  for (const cut of [3, 8, 12]) { // torn inside the header, right after it, inside the payload
    const torn = encodeWalRecord(rec(3)).subarray(0, cut)
    appendFileSync(path, torn)
    const w = await ConsensusWal.open(dir)
    const res = await w.read(5)
    t.same(res.records, [rec(0), rec(1), rec(2)], `cut at ${cut}`)
    t.equal(res.truncatedBytes, cut)
    t.equal(statSync(path).size, clean, 'file truncated back to the last whole record')
    await w.close()
  }
  // a crash that left a torn tail, then a restart that appends without reading first
  appendFileSync(path, encodeWalRecord(rec(3)).subarray(0, 10))
  const w = await ConsensusWal.open(dir)
  await w.append(5, rec(4))
  t.same(await w.records(5), [rec(0), rec(1), rec(2), rec(4)])
  await w.close()
})

t.test('a zero-filled tail (extended but never written) is truncated', async t => {
  const dir = t.testdir()
  const wal = await ConsensusWal.open(dir)
  await wal.append(2, rec(0))
  await wal.close()
  appendFileSync(walFile(dir, 2), new Uint8Array(100))
  const w = await ConsensusWal.open(dir)
  t.same(await w.read(2), { records: [rec(0)], truncatedBytes: 100 })
  await w.close()
})

t.test('CRC corruption in a complete record is WAL_CORRUPT, last or not', async t => {
  const dir = t.testdir()
  const wal = await ConsensusWal.open(dir)
  for (let i = 0; i < 3; i++) await wal.append(3, rec(i))
  await wal.close()
  const path = walFile(dir, 3)
  const original = readFileSync(path)
  const firstLen = encodeWalRecord(rec(0)).length
  for (const [what, offset] of [['payload of the middle record', firstLen + 10], ['payload of the last record', original.length - 2], ['crc field of the first record', 5]] as const) {
    const bytes = Buffer.from(original)
    bytes[offset] ^= 0x01
    writeFileSync(path, bytes)
    const w = await ConsensusWal.open(dir)
    const err = await w.records(3).catch((e: unknown) => e)
    t.ok(err instanceof StorageError, what)
    t.equal((err as StorageError).code, 'WAL_CORRUPT', what)
    t.equal(statSync(path).size, original.length, 'a corrupt WAL is not truncated')
    await w.close()
  }
})

t.test('an impossible length is WAL_CORRUPT; oversize appends are refused', async t => {
  const bytes = encodeWalRecord(rec(0))
  new DataView(bytes.buffer).setUint32(0, 0xfffffff0)
  t.throws(() => parseWal(bytes, 1024, 'test'), { code: 'WAL_CORRUPT' })
  const wal = await ConsensusWal.open(t.testdir(), { maxRecordBytes: 16 })
  t.teardown(() => wal.close())
  await t.rejects(wal.append(1, new Uint8Array(17)), { code: 'WAL_RECORD_TOO_LARGE' })
  await wal.append(1, new Uint8Array(16))
  t.equal((await wal.records(1)).length, 1)
})

t.test('prune removes heights below the bound only', async t => {
  const dir = t.testdir()
  const wal = await ConsensusWal.open(dir)
  t.teardown(() => wal.close())
  for (const h of [1, 2, 3, 4]) await wal.append(h, rec(h))
  t.equal(await wal.prune(3), 2)
  t.same(await wal.heights(), [3, 4])
  t.same(await wal.records(1), [])
  t.same(await wal.records(3), [rec(3)])
  await wal.append(4, rec(5)) // the open handle still works
  t.same(await wal.records(4), [rec(4), rec(5)])
  t.equal(await wal.prune(10), 2)
  t.same(await wal.heights(), [])
})

t.test('tagged records: the first byte says what a record is; a record without a tag is WAL_CORRUPT', async t => {
  const dir = t.testdir()
  const wal = await ConsensusWal.open(dir)
  t.teardown(() => wal.close())
  await wal.appendTagged(3, 1, rec(1))
  await wal.appendTagged(3, 2, rec(2), { sync: false })
  await wal.appendTagged(3, 255, new Uint8Array(0))
  t.same((await wal.taggedRecords(3)).map(r => [r.tag, Buffer.from(r.payload).toString()]), [[1, Buffer.from(rec(1)).toString()], [2, Buffer.from(rec(2)).toString()], [255, '']])
  t.throws(() => encodeTagged(0, rec(0)), { code: 'STORE_BAD_INPUT' })
  t.throws(() => encodeTagged(256, rec(0)), { code: 'STORE_BAD_INPUT' })
  t.throws(() => decodeTagged(new Uint8Array(0), 'x'), { code: 'WAL_CORRUPT' })
  t.throws(() => decodeTagged(Uint8Array.of(0, 1), 'x'), { code: 'WAL_CORRUPT' })
  await wal.append(4, new Uint8Array(0))
  await t.rejects(wal.taggedRecords(4), { code: 'WAL_CORRUPT' })
})

t.test('consensus WAL: messages and the lock proof read back by their tag, no decoder guessing', async t => {
  const dir = t.testdir()
  const wal = await ConsensusWal.open(dir)
  t.teardown(() => wal.close())
  const A = makeBlock(1, 1, 1)
  const prevote = vote('prevote', 0, 1, 0, blockHash(A.header))
  const prop = proposal(A, 0, null, 1)
  const lock = { height: 1, round: 0, block: A, prevotes: [prevote.type === 'vote' ? prevote.vote : undefined!] }
  await wal.appendTagged(1, WAL_TAG.message, encodeMessage(prop))
  await wal.appendTagged(1, WAL_TAG.lockProof, encodeLockProof(lock))
  await wal.appendTagged(1, WAL_TAG.message, encodeMessage(prevote))
  await wal.append(1, encodeLockProof(lock)) // a record from before tags: its first byte (a CBOR map) is no known tag
  await wal.appendTagged(1, WAL_TAG.lockProof, encodeMessage(prevote)) // a tag that lies: refused, not guessed
  const warnings: Array<Record<string, unknown> | undefined> = []
  const log = { debug () {}, info () {}, error () {}, warn (_m: string, f?: Record<string, unknown>) { warnings.push(f) } }
  const read = await readConsensusWal(wal, 1, log)
  t.same(read.messages, [prop, prevote])
  t.same(read.lockProof, lock)
  t.equal(warnings.length, 2)
  t.match(warnings[0], { record: 3, tag: 0xa4 })
  t.match(warnings[1], { record: 4, tag: WAL_TAG.lockProof })
  t.same(decodeWalEntry(9, new Uint8Array(0)), null)
})
