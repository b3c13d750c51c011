// Newest-first pages with stable cursors over a patient's audit trail (read from a real
// LevelDB store, as the node reads it) and over consents, records and requests: a walk
// with `before` sees every entry exactly once while new entries keep arriving.
import t, { type Test } from 'tap'
import { encode } from '../../codec/index.js'
import { sha256, sealText } from '../../crypto/index.js'
import {
  auditPage, consentPage, listConsents, listRecords, pendingRequests, recordPage, requestPage, MAX_PAGE_LIMIT,
  type BlockExecution, type Page, type PageRequest
} from '../../ledger/index.js'
import { openChainStore, type ChainStore } from '../../storage/index.js'
import { CHAIN_ID, GENESIS_HASH, ZERO_HASH, hashBlock } from '../storage/fixtures/helpers.js'
import { world, DAY, T0, type Chain } from './harness.js'

/** Persists a ledger block's writes and audit appends as the node does: one commitBlock. */
async function persist (store: ChainStore, exec: BlockExecution): Promise<void> {
  const head = store.head()
  const blockBytes = encode({ height: exec.height, prev: head?.hash ?? ZERO_HASH })
  await store.commitBlock({
    height: exec.height, hash: hashBlock(blockBytes), prevHash: head?.hash ?? ZERO_HASH, stateRoot: exec.stateRoot, time: T0 + exec.height,
    blockBytes, txs: exec.results.map((r, index) => ({ id: sha256(encode([exec.height, index])), index, code: r.code })), writes: exec.writes, appends: exec.appends
  })
}

async function setup (t: Test): Promise<{ c: Chain, store: ChainStore, sync: () => Promise<void> }> {
  const store = await openChainStore(t.testdir(), { chainId: CHAIN_ID, genesisHash: GENESIS_HASH, hashBlock })
  t.teardown(() => store.close())
  const c = world()
  let persisted = 0
  const sync = async (): Promise<void> => { for (; persisted < c.executions.length; persisted++) await persist(store, c.executions[persisted]) }
  c.run('pat', 'consent.grant', { grantee: { type: 'provider', key: c.key('drA') }, categories: ['*'], actions: ['read'], purposes: ['TREAT'], validFrom: T0, validUntil: T0 + 365 * DAY })
  await sync()
  return { c, store, sync }
}

/** `n` access logs by drA about pat, `perBlock` to a block. */
function accesses (c: Chain, n: number, perBlock: number): void {
  for (let i = 0; i < n; i += perBlock) {
    const txs = []
    for (let k = i; k < Math.min(n, i + perBlock); k++) txs.push(c.tx('drA', 'access.log', { patient: c.key('pat'), category: k % 2 === 0 ? 'labs' : 'vitals', action: 'read', purpose: 'TREAT' }))
    c.block(txs)
  }
}

const at = (e: { cursor: string }): string => e.cursor
const order = (cursor: string): [number, number] => cursor.split('-').map(Number) as [number, number]
const newestFirst = (cursors: string[]): boolean => cursors.every((c, i) => i === 0 || order(cursors[i - 1])[0] > order(c)[0] || (order(cursors[i - 1])[0] === order(c)[0] && order(cursors[i - 1])[1] > order(c)[1]))

t.test('the audit trail comes newest first, a page at a time', async t => {
  const { c, store, sync } = await setup(t)
  accesses(c, 30, 4)
  await sync()
  const scan = store.state.scanPrefix.bind(store.state)
  const first = await auditPage(scan, c.key('pat'), { limit: 10 })
  t.equal(first.items.length, 10)
  t.equal(first.items[0].at.height, c.height, 'the first entry is from the newest block')
  t.ok(newestFirst(first.items.map(at)), 'newest first')
  t.type(first.next, 'string', 'a next cursor while older entries remain')
  t.equal(first.next, first.items[9].cursor, 'next is the oldest entry shown')
  // Every entry of the trail, walking back to the registration.
  const all = [...first.items]
  let next = first.next
  while (next !== null) {
    const p = await auditPage(scan, c.key('pat'), { limit: 10, before: next })
    all.push(...p.items)
    next = p.next
  }
  t.equal(all[all.length - 1].type, 'patient.registered', 'the walk ends at the registration')
  t.equal(new Set(all.map(at)).size, all.length, 'no entry twice')
  t.equal(all.filter(e => e.type === 'access').length, 30, 'every access once')
  t.ok(newestFirst(all.map(at)), 'the whole walk is newest first')
})

t.test('a walk with before neither skips nor repeats while new entries arrive', async t => {
  const { c, store, sync } = await setup(t)
  accesses(c, 20, 3)
  await sync()
  const scan = store.state.scanPrefix.bind(store.state)
  const before = (await auditPage(scan, c.key('pat'), { limit: MAX_PAGE_LIMIT })).items.map(at)
  const seen: string[] = []
  let page = await auditPage(scan, c.key('pat'), { limit: 7 })
  for (;;) {
    seen.push(...page.items.map(at))
    if (page.next === null) break
    accesses(c, 5, 2) // new entries land between two page reads
    await sync()
    page = await auditPage(scan, c.key('pat'), { limit: 7, before: page.next })
  }
  t.same(seen, before, 'the walk returns exactly the trail as it was when it started, in order')
  // And `after` from the newest entry seen picks up exactly what arrived meanwhile, in pages.
  const arrived: string[] = []
  let cursor = before[0]
  for (;;) {
    const p = await auditPage(scan, c.key('pat'), { limit: 4, after: cursor })
    t.ok(newestFirst(p.items.map(at)), 'an after page is newest first too')
    arrived.unshift(...p.items.map(at))
    if (p.next === null) break
    cursor = p.next
  }
  const now = (await auditPage(scan, c.key('pat'), { limit: MAX_PAGE_LIMIT })).items.map(at)
  t.same([...arrived, ...before], now, 'after + before cover the trail exactly once')
  t.equal(arrived.length, now.length - before.length)
})

t.test('limits and cursors are checked', async t => {
  const { c, store } = await setup(t)
  const scan = store.state.scanPrefix.bind(store.state)
  for (const limit of [0, -1, MAX_PAGE_LIMIT + 1, 1.5]) await t.rejects(auditPage(scan, c.key('pat'), { limit }), { code: 'PAGE_BAD_LIMIT' }, `limit ${limit}`)
  for (const cursor of ['', '12', '12-x', '1-1-1', '000000000001/000000']) await t.rejects(auditPage(scan, c.key('pat'), { limit: 5, before: cursor }), { code: 'PAGE_BAD_CURSOR' }, `cursor ${JSON.stringify(cursor)}`)
  await t.rejects(auditPage(scan, c.key('pat'), { limit: 5, before: '1-0', after: '1-0' }), { code: 'PAGE_BAD_CURSOR' })
  const one = await auditPage(scan, c.key('pat'), { limit: 1 })
  t.equal(one.items.length, 1)
  const everything = await auditPage(scan, c.key('pat'), { limit: MAX_PAGE_LIMIT })
  t.equal(everything.next, null, 'no next on the last page')
  t.same((await auditPage(scan, c.key('nobody'), { limit: 5 })), { items: [], next: null }, 'an unknown patient has an empty trail')
  t.throws(() => consentPage([], { limit: 5, before: '1-0' }), { code: 'PAGE_BAD_CURSOR' }, 'item cursors carry a 64-hex id')
})

t.test('consents, records and requests page newest first with the same cursor rules', async t => {
  const { c } = await setup(t)
  const pat = c.key('pat')
  const walk = <T>(read: (req: PageRequest) => Page<T>, limit: number, grow: () => void): string[] => {
    const out: string[] = []
    let p = read({ limit })
    for (;;) {
      out.push(...p.items.map(at))
      if (p.next === null) return out
      grow()
      p = read({ limit, before: p.next })
    }
  }
  // Grants: several per block (same height: the id orders them), more arriving during the walk.
  const grant = (n: number): void => {
    c.block(Array.from({ length: n }, (_, i) => c.tx('pat', 'consent.grant', { grantee: { type: 'role', role: 'nurse' }, categories: ['vitals'], actions: ['read'], purposes: ['TREAT'], validFrom: T0, validUntil: T0 + DAY * (i + 2) })))
  }
  grant(3); grant(2); grant(3)
  const consents = (req: PageRequest): Page<unknown> => consentPage(listConsents(c.state, pat, c.time), req)
  const snapshot = consents({ limit: MAX_PAGE_LIMIT }).items.map(at)
  t.equal(snapshot.length, 9, 'nine grants')
  t.same(walk(consents, 2, () => grant(2)), snapshot, 'consent walk: each grant once, while grants arrive')
  const newest = consents({ limit: 1 }).items[0] as { grant: { granted: { height: number } } }
  t.equal(newest.grant.granted.height, c.height, 'the newest grant comes first')

  c.run('alpha', 'provider.register', { key: c.key('drW'), role: 'physician', name: 'Dr W' })
  c.run('pat', 'consent.grant', { grantee: { type: 'provider', key: c.key('drW') }, categories: ['labs'], actions: ['write'], purposes: ['TREAT'], validFrom: T0, validUntil: T0 + 365 * DAY })
  const anchor = (n: number): void => {
    c.block(Array.from({ length: n }, (_, i) => c.tx('drW', 'record.anchor', { patient: pat, category: 'labs', hash: sha256(encode([c.height, i])), locator: sealText(`s3://r/${c.height}/${i}`, [pat]), purpose: 'TREAT' })))
  }
  anchor(2); anchor(3)
  const records = (req: PageRequest): Page<unknown> => recordPage(listRecords(c.state, pat), req)
  const recs = records({ limit: MAX_PAGE_LIMIT }).items.map(at)
  t.equal(recs.length, 5)
  t.same(walk(records, 2, () => anchor(1)), recs, 'record walk: each record once, while records arrive')

  const request = (n: number): void => {
    c.block(Array.from({ length: n }, (_, i) => c.tx(i % 2 === 0 ? 'drA' : 'drB', 'access.request', { patient: pat, categories: ['labs'], actions: ['read'], purposes: ['TREAT'] })))
  }
  request(2); request(2)
  const lastRequestHeight = c.height
  const requests = (req: PageRequest): Page<unknown> => requestPage(pendingRequests(c.state, pat, c.time), req)
  const reqs = requests({ limit: MAX_PAGE_LIMIT }).items.map(at)
  t.equal(reqs.length, 4)
  t.same(walk(requests, 3, () => request(2)), reqs, 'request walk: each request once, while requests arrive')
  t.match(reqs[0], new RegExp(`^${lastRequestHeight}-[0-9a-f]{64}$`), 'cursor is <height>-<id>, the newest request first')
})
