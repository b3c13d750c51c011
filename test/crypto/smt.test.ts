import t from 'tap'
import { bytesEqual, toHex, utf8 } from '../../codec/index.js'
import { sha256, SparseMerkleTree, SMT_EMPTY, encodeSmtNode, verifySmtProof, type SmtChange, type SmtNodeWrite } from '../../crypto/index.js'

const path = (k: string): Uint8Array => sha256(utf8(k))
const vh = (v: string): Uint8Array => sha256(utf8(v))
const sorted = (m: Map<string, string | null>): SmtChange[] =>
  [...m].map(([k, v]) => ({ path: path(k), valueHash: v === null ? null : vh(v) })).sort((a, b) => Buffer.compare(a.path, b.path))

/** Deterministic xorshift: the same sequence on every run. */
function prng (seed: number): () => number {
  let x = seed
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 0x100000000 }
}

function fromScratch (state: Map<string, string>): Uint8Array {
  const tree = new SparseMerkleTree()
  return tree.update(sorted(new Map([...state]))).root
}

t.test('incremental updates (puts, overwrites, deletes) give the root of the final set built at once', async t => {
  const rnd = prng(7)
  const tree = new SparseMerkleTree()
  const state = new Map<string, string>()
  for (let block = 0; block < 60; block++) {
    const changes = new Map<string, string | null>()
    const n = 1 + Math.floor(rnd() * 40)
    for (let i = 0; i < n; i++) {
      const k = `k${Math.floor(rnd() * 300)}`
      const del = rnd() < 0.3
      changes.set(k, del ? null : `v${block}-${i}`)
    }
    const u = tree.update(sorted(changes))
    tree.apply(u)
    for (const [k, v] of changes) { if (v === null) state.delete(k); else state.set(k, v) }
    t.equal(toHex(tree.root), toHex(fromScratch(state)), `block ${block}: ${state.size} keys`)
  }
  t.equal(toHex(tree.recomputeRoot()), toHex(tree.root), 'stored nodes hash to the root')
  t.equal([...tree.walk()].length, state.size, 'walk sees every leaf')
  // Delete everything: the empty tree.
  const u = tree.update(sorted(new Map([...state.keys()].map(k => [k, null]))))
  tree.apply(u)
  t.ok(bytesEqual(tree.root, SMT_EMPTY), 'an emptied tree has the empty root')
  t.equal(tree.unpersisted().length, 0, 'and holds no node')
})

t.test('inclusion and absence proofs verify against the root and fail against another', async t => {
  const tree = new SparseMerkleTree()
  const state = new Map<string, string>()
  for (let i = 0; i < 200; i++) state.set(`key/${i}`, `value ${i}`)
  tree.apply(tree.update(sorted(new Map(state))))
  for (let i = 0; i < 200; i += 13) {
    const p = tree.prove(path(`key/${i}`))
    const got = verifySmtProof(tree.root, path(`key/${i}`), p)
    t.ok(got !== null && bytesEqual(got, vh(`value ${i}`)), `key/${i} included`)
  }
  for (const k of ['key/200', 'nope', 'key/-1']) {
    const p = tree.prove(path(k))
    t.equal(verifySmtProof(tree.root, path(k), p), null, `${k} absent`)
  }
  const before = tree.root
  const proof = tree.prove(path('key/5'))
  tree.apply(tree.update(sorted(new Map([['key/5', 'changed']]))))
  t.throws(() => verifySmtProof(tree.root, path('key/5'), proof), { code: 'SMT_PROOF_INVALID' }, 'an old proof fails against the new root')
  t.ok(verifySmtProof(before, path('key/5'), proof) !== null, 'and still holds against the old root')
  // An inclusion proof can not be passed off as absence of that key, nor for another key.
  const p5 = tree.prove(path('key/5'))
  t.throws(() => verifySmtProof(tree.root, path('key/6'), p5), { code: 'SMT_PROOF_INVALID' })
  const tampered = { ...p5, leaf: { path: p5.leaf!.path, valueHash: vh('value 5') } }
  t.throws(() => verifySmtProof(tree.root, path('key/5'), tampered), { code: 'SMT_PROOF_INVALID' }, 'an edited value fails')
})

t.test('a tree backed by a node store: same roots, nodes read from the store, restart reopens without a rebuild', async t => {
  const store = new Map<string, Uint8Array>()
  const persist = (nodes: SmtNodeWrite[]): void => { for (const [k, v] of nodes) { const s = toHex(k); if (v === null) store.delete(s); else store.set(s, encodeSmtNode(v)) } }
  const reads = { n: 0 }
  const reader = (k: Uint8Array): Uint8Array | undefined => { reads.n++; return store.get(toHex(k)) }
  const mem = new SparseMerkleTree()
  const disk = new SparseMerkleTree(SMT_EMPTY, { reader, cache: 16 })
  const rnd = prng(99)
  for (let block = 0; block < 40; block++) {
    const changes = new Map<string, string | null>()
    for (let i = 0; i < 25; i++) changes.set(`k${Math.floor(rnd() * 500)}`, rnd() < 0.2 ? null : `v${block}.${i}`)
    const a = mem.update(sorted(changes)); mem.apply(a)
    const b = disk.update(sorted(changes)); persist(b.nodes); disk.apply(b, { persisted: true })
    t.equal(toHex(b.root), toHex(a.root))
  }
  t.ok(reads.n > 0, `nodes were read from the store (${reads.n} reads)`)
  t.equal(disk.unpersisted().length, 0)
  const reopened = new SparseMerkleTree(disk.root, { reader })
  t.equal(toHex(reopened.recomputeRoot()), toHex(mem.root), 'a reopened tree reads its root from the store')
  const k = [...mem.walk()][0]
  t.ok(k !== undefined)
})
