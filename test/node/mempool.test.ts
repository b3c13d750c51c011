import t from 'tap'
import { Mempool, VerifiedTxCache, type MempoolTx } from '../../node/mempool.js'
import { parseConfig } from '../../node/config.js'

const tx = (sender: string, nonce: number, size = 100): MempoolTx => ({ id: `${sender}-${nonce}-${size}`, bytes: new Uint8Array(size), sender, nonce })
const limits = { maxTxs: 10, maxBytes: 2000, maxPerSender: 5, maxNonceGap: 8, ttlMs: 60_000 }
/** A mempool at head 0 on a clock the test moves. */
const at0 = (l: typeof limits = limits): Mempool => new Mempool({ limits: l, head: 0, clock: () => 0 })

function code (fn: () => void): string {
  try { fn(); return 'OK' } catch (err) { return (err as { code: string }).code }
}

t.test('admission: duplicates, stale and far nonces, taken nonce, per-sender and global limits', async t => {
  const m = at0()
  t.equal(code(() => m.add(tx('a', 0), 0)), 'OK')
  t.equal(code(() => m.add(tx('a', 0), 0)), 'MEMPOOL_DUPLICATE')
  t.equal(code(() => m.add({ ...tx('a', 0), id: 'other' }, 0)), 'TX_NONCE_TAKEN')
  t.equal(code(() => m.add(tx('b', 1), 2)), 'TX_STALE_NONCE')
  t.equal(code(() => m.add(tx('b', 11), 2)), 'TX_NONCE_TOO_FAR')
  for (let n = 1; n < 5; n++) m.add(tx('a', n), 0)
  t.equal(code(() => m.add(tx('a', 5), 0)), 'MEMPOOL_SENDER_FULL')
  t.equal(code(() => m.add(tx('c', 0, 1600), 0)), 'MEMPOOL_FULL', 'byte limit')
  for (let i = 0; i < 5; i++) m.add(tx(`s${i}`, 0, 10), 0)
  t.equal(m.size, 10)
  t.equal(code(() => m.add(tx('z', 0, 10), 0)), 'MEMPOOL_FULL', 'count limit')
  t.equal(m.bytes, 5 * 100 + 5 * 10)
})

t.test('reap follows nonces per sender, arrival across senders, and the block limits', async t => {
  const m = at0({ ...limits, maxPerSender: 10, maxNonceGap: 10 })
  m.add(tx('a', 1), 0) // gap: a's nonce 0 has not arrived
  m.add(tx('b', 0), 0)
  m.add(tx('a', 0), 0)
  m.add(tx('b', 1), 0)
  t.same(m.reap(10, 10_000, () => 0).map(x => x.id), ['b-0-100', 'b-1-100', 'a-0-100', 'a-1-100'], 'a-1 follows a-0 once it is there')
  t.same(m.reap(3, 10_000, () => 0).map(x => x.id), ['b-0-100', 'b-1-100', 'a-0-100'], 'maxTxs')
  t.same(m.reap(10, 250, () => 0).map(x => x.id), ['b-0-100', 'b-1-100'], 'maxBytes')
  t.same(m.reap(10, 10_000, s => (s === 'a' ? 1 : 0)).map(x => x.id), ['a-1-100', 'b-0-100', 'b-1-100'], 'committed nonce of a is 1')
})

t.test('update drops committed and stale transactions', async t => {
  const m = at0({ ...limits, maxPerSender: 10, maxNonceGap: 10 })
  m.add(tx('a', 0), 0)
  m.add(tx('a', 1), 0)
  m.add(tx('b', 0), 0)
  m.update(1, ['a-0-100'], s => (s === 'a' ? 1 : 0))
  t.same([m.has('a-0-100'), m.has('a-1-100'), m.has('b-0-100')], [false, true, true])
  m.update(2, [], s => (s === 'a' ? 2 : 0)) // a-1 committed elsewhere (e.g. via another node's block)
  t.notOk(m.has('a-1-100'), 'stale nonce re-checked after a block')
  t.ok(m.has('b-0-100'))
  t.equal(m.size, 1)
  m.remove('b-0-100')
  t.equal(m.size, 0)
  t.equal(m.bytes, 0)
  t.equal(m.nextPendingNonce('a', 2), 2)
})

t.test('nextPendingNonce counts contiguous pending transactions', async t => {
  const m = at0({ ...limits, maxPerSender: 10, maxNonceGap: 10 })
  m.add(tx('a', 0), 0)
  m.add(tx('a', 1), 0)
  m.add(tx('a', 3), 0)
  t.equal(m.nextPendingNonce('a', 0), 2)
})

t.test('verified-signature cache is bounded', async t => {
  const c = new VerifiedTxCache(16)
  for (let i = 0; i < 100; i++) c.add(String(i))
  t.ok(c.has('99'))
  t.notOk(c.has('0'))
  t.ok(c.size <= 16, `holds ${c.size} ≤ 16`)
  c.delete('99')
  t.notOk(c.has('99'), 'a committed id is forgotten')
})

t.test('the head is required and checked: a block must land on the height the mempool was built at', async t => {
  t.equal(code(() => new Mempool({ limits, head: -1, clock: () => 0 })), 'MEMPOOL_BAD_HEAD')
  t.equal(code(() => new Mempool({ limits, head: 1.5, clock: () => 0 })), 'MEMPOOL_BAD_HEAD')
  t.equal(code(() => new Mempool({ limits: { ...limits, ttlMs: 0 }, head: 0, clock: () => 0 })), 'MEMPOOL_BAD_TTL')
  const m = new Mempool({ limits, head: 700, clock: () => 0 })
  t.equal(m.height, 700)
  t.equal(code(() => m.update(1, [], () => 0)), 'MEMPOOL_HEAD_MISMATCH', 'a mempool told a stale head refuses the next block instead of misjudging ages')
  t.equal(code(() => m.update(703, [], () => 0)), 'MEMPOOL_HEAD_MISMATCH', 'a skipped height is refused')
  t.equal(code(() => m.update(701, [], () => 0)), 'OK')
  t.equal(m.height, 701)
})

t.test('the TTL is time waited in this mempool: a restart at a high head or a fast catch-up does not age a transaction', async t => {
  let now = 1_000_000
  // A validator restarted on a chain far above any block-count TTL; it accepts a transaction
  // at once, then catches up on many blocks within a second.
  const m = new Mempool({ limits, head: 5000, clock: () => now })
  m.add(tx('a', 0), 0)
  for (let h = 5001; h <= 6000; h++) m.update(h, [], () => 0)
  now += 1000
  m.update(6001, [], () => 0)
  t.ok(m.has('a-0-100'), 'still pending after 1001 blocks in 1 s')
  m.add(tx('b', 0), 0)
  now += limits.ttlMs - 1000 // a has now waited exactly ttlMs
  m.update(6002, [], () => 0)
  t.ok(m.has('a-0-100'), 'kept at exactly ttlMs')
  now += 1
  m.update(6003, [], () => 0)
  t.notOk(m.has('a-0-100'), 'evicted once it waited longer than ttlMs')
  t.ok(m.has('b-0-100'), 'a younger transaction stays')
  t.equal(m.size, 1)
  t.equal(m.bytes, 100)
})

t.test('pending() lists every transaction in arrival order, for a newly connected peer', async t => {
  const m = at0({ ...limits, maxPerSender: 10, maxNonceGap: 10 })
  m.add(tx('b', 1), 0)
  m.add(tx('a', 0), 0)
  m.add(tx('b', 0), 0)
  m.remove('a-0-100')
  t.same([...m.pending()].map(x => x.id), ['b-1-100', 'b-0-100'])
})

t.test('config: the mempool TTL is set in milliseconds; the old block count is refused with its replacement named', async t => {
  t.equal(parseConfig('[mempool]\nttlMs = 5000\n').mempool.ttlMs, 5000)
  t.equal(code(() => parseConfig('[mempool]\nttlBlocks = 600\n')), 'CONFIG_KEY_REPLACED')
  try { parseConfig('[mempool]\nttlBlocks = 600\n') } catch (err) { t.match((err as Error).message, /mempool\.ttlMs/) }
})
