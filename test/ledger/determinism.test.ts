import t from 'tap'
import { toHex, bytesEqual, encode, decode } from '../../codec/index.js'
import { type AuditEntry, LedgerState, listConsents, listRecords, checkAccess, breakGlassEvents, pendingRequests, executeBlock } from '../../ledger/index.js'
import { world } from './harness.js'
import { registerPatients, mixedBlock } from './workload.js'

function script (decodedCache?: number): { roots: string[], c: ReturnType<typeof world> } {
  const c = world()
  if (decodedCache !== undefined) c.backWith(new Map(), decodedCache)
  c.verifySignatures = false // signatures are covered by tx.test.ts; this is about execution
  registerPatients(c, 20)
  const roots = [toHex(c.state.stateRoot)]
  for (let round = 0; round < 5; round++) {
    c.block(mixedBlock(c, 20, 10, round), 3600_000)
    roots.push(toHex(c.state.stateRoot))
  }
  return { roots, c }
}

t.test('same blocks → same state roots, writes and appends', async t => {
  const a = script()
  const b = script()
  t.same(a.roots, b.roots)
  t.equal(new Set(a.roots).size, a.roots.length, 'every block changed the root')
  for (let i = 0; i < a.c.executions.length; i++) {
    const x = a.c.executions[i]; const y = b.c.executions[i]
    t.ok(x.writes.length === y.writes.length && x.writes.every((w, j) => w[0] === y.writes[j][0] && (w[1] === null ? y.writes[j][1] === null : y.writes[j][1] !== null && bytesEqual(w[1], y.writes[j][1]!))), `block ${i + 1} writes`)
    t.same(x.appends.map(p => p[0]), y.appends.map(p => p[0]))
    t.ok(x.appends.every((p, j) => bytesEqual(p[1], y.appends[j][1])), `block ${i + 1} append values`)
    t.same(x.results, y.results)
  }
  const codes = new Set(a.c.executions.flatMap(e => e.results.map(r => r.code)))
  t.ok(codes.has('OK') && codes.has('PATIENT_EXISTS'), `mixed outcomes: ${[...codes].join(',')}`)
  // Refused writes (WRITE_DENIED) by registered providers are in the trail, so the roots above cover them.
  const refused = a.c.executions.flatMap(e => e.appends).filter(([, v]) => (decode(v) as AuditEntry).refused === true).length
  t.ok(refused > 0, `refused attempts among the appends: ${refused}`)
})

t.test('restart: fromEntries of all writes answers the same and continues to the same root', async t => {
  const { c } = script()
  // rebuild from the union of every block's writes, as storage would persist them
  const persisted = new Map<string, Uint8Array>()
  const genesis = world() // same genesis writes (deterministic)
  for (const [k, v] of genesis.state.sortedEntries()) if (!k.startsWith('provider/') && !k.startsWith('patient') && !k.startsWith('nonce/') && !k.startsWith('audit')) persisted.set(k, v)
  for (const exec of c.executions) for (const [k, v] of exec.writes) { if (v === null) persisted.delete(k); else persisted.set(k, v) }
  const restored = LedgerState.fromEntries(persisted, c.state.stateRoot, c.state.height)
  t.equal(restored.size, c.state.size)
  t.same([...restored.sortedEntries()].map(([k, v]) => k + toHex(v)), [...c.state.sortedEntries()].map(([k, v]) => k + toHex(v)))
  for (let i = 0; i < 20; i += 7) {
    const p = c.key(`p${i}`)
    t.same(listConsents(restored, p, c.time), listConsents(c.state, p, c.time))
    t.same(listRecords(restored, p), listRecords(c.state, p))
    t.same(breakGlassEvents(restored, p), breakGlassEvents(c.state, p))
    t.same(pendingRequests(restored, p, c.time), pendingRequests(c.state, p, c.time))
    for (const who of ['drA', 'drB', 'nurseB', 'er']) {
      for (const category of ['labs', 'imaging', 'mental_health'] as const) {
        const q = { patient: p, requester: c.key(who), category, action: 'read' as const, purpose: 'TREAT' as const, time: c.time }
        t.same(checkAccess(restored, q), checkAccess(c.state, q))
      }
    }
  }
  const txs = mixedBlock(c, 20, 10, 7)
  const ctx = { height: c.height + 1, time: c.time + 1000, proposer: c.key('alpha') }
  t.equal(toHex(executeBlock(restored, ctx, txs).stateRoot), toHex(executeBlock(c.state, ctx, txs).stateRoot))
})

t.test('a state backed by committed storage with a 4-value cache: same roots, same answers, nothing resident', async t => {
  const mem = script()
  const disk = script(4)
  t.same(disk.roots, mem.roots, 'every block reaches the same state root')
  t.equal(disk.c.state.size, 0, 'no entry is held in memory: values are read from the store')
  t.ok(disk.c.state.cachedValues <= 4, `decoded cache bounded: ${disk.c.state.cachedValues} ≤ 4`)
  t.same([...disk.c.store!.entries()].sort(([a], [b]) => a < b ? -1 : 1).map(([k, v]) => k + toHex(v)), [...mem.c.state.sortedEntries()].map(([k, v]) => k + toHex(v)), 'the store holds exactly the in-memory state')
  for (let i = 0; i < 20; i += 3) {
    const p = mem.c.key(`p${i}`)
    t.same(listConsents(disk.c.state, p, mem.c.time), listConsents(mem.c.state, p, mem.c.time))
    t.same(listRecords(disk.c.state, p), listRecords(mem.c.state, p))
    for (const who of ['drA', 'nurseB', 'er']) {
      const q = { patient: p, requester: mem.c.key(who), category: 'labs' as const, action: 'read' as const, purpose: 'TREAT' as const, time: mem.c.time }
      t.same(checkAccess(disk.c.state, q), checkAccess(mem.c.state, q))
    }
  }
  // A block applied as persisted to an unbacked state keeps everything in memory (no source to read from).
  t.ok(mem.c.state.size > 0)
})

t.test('state values own their bytes: a view into a larger buffer is copied, not retained', async t => {
  const big = new Uint8Array(64 * 1024)
  const value = encode({ a: 1 })
  big.set(value, 1000)
  const view = big.subarray(1000, 1000 + value.length)
  const root = new LedgerState().stateTreeUpdate([['chain', value]]).root
  const s = LedgerState.fromEntries([['chain', view]], root, 0)
  const held = s.getBytes('chain')!
  t.equal(held.buffer.byteLength, value.length, `the entry holds ${held.buffer.byteLength} bytes, not the 64 KiB buffer it came from`)
  t.same(s.get('chain'), { a: 1 })
})
