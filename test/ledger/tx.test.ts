import t from 'tap'
import { encode, fromHex, toHex, bytesEqual } from '../../codec/index.js'
import { sha256, signingBytes, Ed25519Signer } from '../../crypto/index.js'
import {
  buildTx, decodeTx, checkTxSignature, verifyTxSignature, encodeEnvelope, seedSigner, fastSigner, registerPatient, grantConsent,
  initGenesis, LedgerError, MAX_TX_BYTES, type UnsignedTx
} from '../../ledger/index.js'
import { CHAIN, seedOf } from './harness.js'

const seed = seedOf('pat')
const signer = new Ed25519Signer(seed)
const grantBody = {
  grantee: { type: 'provider' as const, key: fastSigner(seedOf('drA')).publicKey },
  categories: ['labs' as const],
  actions: ['read' as const],
  purposes: ['TREAT' as const],
  validFrom: 0,
  validUntil: 10
}

function code (fn: () => unknown): string {
  try { fn() } catch (err) { return err instanceof LedgerError ? err.code : `other: ${(err as Error).message}` }
  return 'no error'
}

/** Signs an arbitrary (possibly invalid) unsigned tx object, bypassing the builders' typing. */
function signRaw (tx: Record<string, unknown>, s = signer, signChain = CHAIN): Uint8Array {
  const sig = s.sign('tx', signChain, encode(tx))
  return encode({ tx, sig })
}

t.test('builder output decodes; id is sha256 of the envelope; noble and native sign identically', async t => {
  const a = grantConsent({ chainId: CHAIN, signer: seed, nonce: 3, time: 123 }, grantBody)
  const b = grantConsent({ chainId: CHAIN, signer, nonce: 3, time: 123 }, grantBody)
  t.ok(bytesEqual(a.bytes, b.bytes), 'seedSigner (noble) and Ed25519Signer agree')
  const d = decodeTx(a.bytes, CHAIN)
  t.equal(d.idHex, toHex(sha256(a.bytes)))
  t.equal(d.tx.kind, 'consent.grant')
  t.equal(d.tx.nonce, 3)
  t.equal(d.tx.time, 123)
  t.ok(bytesEqual(d.tx.sender, signer.publicKey))
  t.ok(a.bytes.length < 400, `grant envelope is ${a.bytes.length} bytes`)
  t.equal(seedSigner(seed).publicKey.length, 32)
})

t.test('signature edge cases', async t => {
  const good = registerPatient({ chainId: CHAIN, signer, nonce: 0 }, {})
  t.equal(code(() => decodeTx(good.bytes, CHAIN)), 'no error')

  // signed by another key than the sender
  const tx: UnsignedTx = { ...good.tx }
  const other = new Ed25519Signer(seedOf('mallory'))
  t.equal(code(() => decodeTx(encodeEnvelope(tx, other.sign('tx', CHAIN, encode(tx))), CHAIN)), 'TX_BAD_SIGNATURE', 'wrong key')

  // signed for another chain but claiming this one
  t.equal(code(() => decodeTx(encodeEnvelope(tx, signer.sign('tx', 'other-chain', encode(tx))), CHAIN)), 'TX_BAD_SIGNATURE', 'signature under another chain id')
  // signed under another domain tag
  t.equal(code(() => decodeTx(encodeEnvelope(tx, signer.signRaw(signingBytes('prevote', CHAIN, encode(tx)))), CHAIN)), 'TX_BAD_SIGNATURE', 'other domain tag')

  // a valid tx of another chain
  const foreign = registerPatient({ chainId: 'other-chain', signer, nonce: 0 }, {})
  t.equal(code(() => decodeTx(foreign.bytes, CHAIN)), 'TX_WRONG_CHAIN')
  t.equal(code(() => decodeTx(foreign.bytes, 'other-chain')), 'no error')

  // tampered signature and tampered signed content
  const sigFlip = Uint8Array.from(good.bytes); sigFlip[sigFlip.length - 1] ^= 1
  t.equal(code(() => decodeTx(sigFlip, CHAIN)), 'TX_BAD_SIGNATURE', 'flipped signature bit')
  const changed = { ...good.tx, nonce: 1 }
  t.equal(code(() => decodeTx(encodeEnvelope(changed, good.bytes.subarray(good.bytes.length - 64)), CHAIN)), 'TX_BAD_SIGNATURE', 'nonce changed after signing')
  // flip every byte of the envelope once: never accepted
  let accepted = 0
  for (let i = 0; i < good.bytes.length; i++) {
    const b = Uint8Array.from(good.bytes); b[i] ^= 0x01
    if (code(() => decodeTx(b, CHAIN)) === 'no error') accepted++
  }
  t.equal(accepted, 0, 'no single-bit tamper is accepted')

  // skipSignature path, then one separate check (the node caches this)
  const unchecked = decodeTx(sigFlip, CHAIN, { skipSignature: true })
  t.equal(checkTxSignature(unchecked), false)
  t.equal(code(() => verifyTxSignature(unchecked)), 'TX_BAD_SIGNATURE')
  t.equal(checkTxSignature(decodeTx(good.bytes, CHAIN, { skipSignature: true })), true)
})

t.test('canonical encoding, closed schemas, limits', async t => {
  const good = registerPatient({ chainId: CHAIN, signer, nonce: 0 }, {})
  // non-minimal integer: nonce 0 as 0x18 0x00
  const nonceKey = Buffer.from([0x65, ...Buffer.from('nonce')])
  const at = Buffer.from(good.bytes).indexOf(nonceKey) + nonceKey.length
  const nonMinimal = new Uint8Array([...good.bytes.subarray(0, at), 0x18, 0x00, ...good.bytes.subarray(at + 1)])
  t.equal(code(() => decodeTx(nonMinimal, CHAIN)), 'TX_NON_CANONICAL', 'non-minimal integer')
  t.equal(code(() => decodeTx(new Uint8Array([...good.bytes, 0]), CHAIN)), 'TX_MALFORMED', 'trailing byte')
  t.equal(code(() => decodeTx(good.bytes.subarray(0, good.bytes.length - 3), CHAIN)), 'TX_MALFORMED', 'truncated')
  t.equal(code(() => decodeTx(new Uint8Array(MAX_TX_BYTES + 1), CHAIN)), 'TX_OVERSIZE')

  const base = { v: 1, chainId: CHAIN, kind: 'patient.register', sender: signer.publicKey, nonce: 0, body: {} }
  t.equal(code(() => decodeTx(signRaw(base), CHAIN)), 'no error', 'control')
  t.equal(code(() => decodeTx(signRaw({ ...base, extra: 1 }), CHAIN)), 'TX_MALFORMED', 'unknown top-level field')
  t.equal(code(() => decodeTx(signRaw({ ...base, body: { foo: 1 } }), CHAIN)), 'TX_MALFORMED', 'unknown body field')
  t.equal(code(() => decodeTx(signRaw({ ...base, kind: 'governance.add_member' }), CHAIN)), 'TX_UNKNOWN_KIND')
  t.equal(code(() => decodeTx(signRaw({ ...base, v: 2 }), CHAIN)), 'TX_BAD_VERSION')
  t.equal(code(() => decodeTx(signRaw({ ...base, nonce: -1 }), CHAIN)), 'TX_MALFORMED', 'negative nonce')
  t.equal(code(() => decodeTx(signRaw({ ...base, sender: new Uint8Array(31) }), CHAIN)), 'TX_MALFORMED', 'short sender')
  t.equal(code(() => decodeTx(encode({ tx: base }), CHAIN)), 'TX_MALFORMED', 'missing signature')
  t.equal(code(() => decodeTx(encode({ tx: base, sig: new Uint8Array(63) }), CHAIN)), 'TX_MALFORMED', 'short signature')
  t.equal(code(() => decodeTx(encode([base]), CHAIN)), 'TX_MALFORMED', 'not a map')

  const g = [fastSigner(seedOf('g1')).publicKey, fastSigner(seedOf('g2')).publicKey].sort((a, b) => Buffer.compare(b, a))
  t.equal(code(() => decodeTx(signRaw({ ...base, body: { guardians: g, threshold: 1 } }), CHAIN)), 'TX_NON_CANONICAL', 'unsorted guardian set')
  t.equal(code(() => decodeTx(signRaw({ ...base, body: { guardians: g.reverse() } }), CHAIN)), 'TX_MALFORMED', 'guardians without threshold')
  t.equal(code(() => decodeTx(signRaw({ ...base, body: { guardians: g, threshold: 3 } }), CHAIN)), 'TX_MALFORMED', 'threshold above guardians')
  t.equal(code(() => decodeTx(signRaw({ ...base, body: { guardians: g, threshold: 2 } }), CHAIN)), 'no error', 'control: 2 of 2')

  const log = { ...base, kind: 'access.log', body: { patient: signer.publicKey, action: 'read', purpose: 'TREAT', category: 'labs' } }
  t.equal(code(() => decodeTx(signRaw(log), CHAIN)), 'no error', 'control: access.log')
  t.equal(code(() => decodeTx(signRaw({ ...log, body: { ...log.body, record: new Uint8Array(32) } }), CHAIN)), 'TX_MALFORMED', 'both category and record')
  t.equal(code(() => decodeTx(signRaw({ ...log, body: { ...log.body, purpose: 'FUN' } }), CHAIN)), 'TX_MALFORMED', 'unknown purpose')
  t.equal(code(() => decodeTx(signRaw({ ...log, body: { ...log.body, category: 'everything' } }), CHAIN)), 'TX_MALFORMED', 'unknown category')
  const grant = { ...base, kind: 'consent.grant', body: { ...grantBody, categories: ['labs', 'allergies'] } }
  t.equal(code(() => decodeTx(signRaw(grant), CHAIN)), 'TX_NON_CANONICAL', 'unsorted category set')
  t.equal(code(() => decodeTx(signRaw({ ...grant, body: { ...grantBody, grantee: { type: 'anyone' } } }), CHAIN)), 'TX_MALFORMED', 'unknown grantee type')
})

t.test('buildTx drops undefined optionals (CBOR has no undefined)', async t => {
  const b = buildTx('provider.suspend', { key: signer.publicKey, reason: undefined }, { chainId: CHAIN, signer, nonce: 0 })
  t.same(Object.keys(decodeTx(b.bytes, CHAIN).tx.body), ['key'])
})

// The two keys of issue 10: the identity (y = 1) and the order-2 point (y = p - 1), each spelt
// with the sign bit set on x = 0. Under the identity, R = base point and S = 1 satisfy
// [S]B = R + [k]A for every message, so this one signature would sign for anyone.
const ISSUE_KEYS = {
  'identity, sign bit set': fromHex('0100000000000000000000000000000000000000000000000000000000000080'),
  'order 2, sign bit set': fromHex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff')
}
const FIXED_SIG = (() => {
  const sig = new Uint8Array(64)
  sig.set(fromHex('5866666666666666666666666666666666666666666666666666666666666666'), 0)
  sig[32] = 1
  return sig
})()

function refusal (fn: () => unknown): { code: string, value: unknown } {
  try { fn() } catch (err) { return err instanceof LedgerError ? { code: err.code, value: err.value } : { code: `other: ${(err as Error).message}`, value: undefined } }
  return { code: 'no error', value: undefined }
}

t.test('a small-order sender key with the fixed signature (R = B, S = 1) is refused for every kind', async t => {
  const bodies: Record<string, Record<string, unknown>> = {
    'patient.register': {},
    'patient.rotate_key': { newKey: fastSigner(seedOf('next')).publicKey },
    'consent.revoke': { grantId: new Uint8Array(32).fill(7) }
  }
  for (const [name, sender] of Object.entries(ISSUE_KEYS)) {
    for (const [kind, body] of Object.entries(bodies)) {
      const bytes = encode({ tx: { v: 1, chainId: CHAIN, kind, sender, nonce: 0, body }, sig: FIXED_SIG })
      const r = refusal(() => decodeTx(bytes, CHAIN))
      t.equal(r.code, 'TX_BAD_KEY', `${kind} from ${name}`)
      t.match(r.value, { field: 'tx.sender', key: toHex(sender), problem: 'small_order' })
      // The node's path: decode without the signature, verify once afterwards.
      const unchecked = decodeTx(bytes, CHAIN, { skipSignature: true })
      t.equal(checkTxSignature(unchecked), false, `${kind} from ${name}: checkTxSignature`)
      t.equal(code(() => verifyTxSignature(unchecked)), 'TX_BAD_KEY', `${kind} from ${name}: verifyTxSignature`)
    }
  }
})

t.test('a key that a body names must pass the key rule; the refusal names the field', async t => {
  const good = (name: string): Uint8Array => fastSigner(seedOf(name)).publicKey
  const badKeys: Record<string, Uint8Array> = {
    ...ISSUE_KEYS,
    'identity, canonical': fromHex('0100000000000000000000000000000000000000000000000000000000000000'),
    'order 8': fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'),
    'y = p (non-canonical zero)': fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
    'y = 2 (not on the curve)': fromHex('0200000000000000000000000000000000000000000000000000000000000000')
  }
  const problems: Record<string, string> = {
    'identity, sign bit set': 'small_order',
    'order 2, sign bit set': 'small_order',
    'identity, canonical': 'small_order',
    'order 8': 'small_order',
    'y = p (non-canonical zero)': 'non_canonical',
    'y = 2 (not on the curve)': 'not_on_curve'
  }
  const cases: Array<{ kind: string, field: string, body: (k: Uint8Array) => Record<string, unknown> }> = [
    { kind: 'provider.register', field: 'tx.body.key', body: k => ({ key: k, role: 'physician', name: 'Dr X' }) },
    { kind: 'provider.suspend', field: 'tx.body.key', body: k => ({ key: k }) },
    { kind: 'provider.reinstate', field: 'tx.body.key', body: k => ({ key: k }) },
    { kind: 'patient.register', field: 'tx.body.guardians[0]', body: k => ({ guardians: [k], threshold: 1 }) },
    { kind: 'patient.rotate_key', field: 'tx.body.newKey', body: k => ({ newKey: k }) },
    { kind: 'patient.recover', field: 'tx.body.newKey', body: k => ({ patient: good('pat2'), newKey: k }) },
    { kind: 'consent.grant', field: 'tx.body.grantee.key', body: k => ({ ...grantBody, grantee: { type: 'provider', key: k } }) }
  ]
  for (const c of cases) {
    const tx = (k: Uint8Array): Record<string, unknown> => ({ v: 1, chainId: CHAIN, kind: c.kind, sender: signer.publicKey, nonce: 0, body: c.body(k) })
    t.equal(code(() => decodeTx(signRaw(tx(good('someone'))), CHAIN)), 'no error', `${c.kind}: control with an ordinary key`)
    for (const [name, k] of Object.entries(badKeys)) {
      const r = refusal(() => decodeTx(signRaw(tx(k)), CHAIN))
      t.equal(r.code, 'TX_BAD_KEY', `${c.kind} ${c.field}: ${name}`)
      t.same(r.value, { field: c.field, key: toHex(k), problem: problems[name] }, `${c.kind}: names ${c.field} and the ${problems[name]} key`)
    }
  }
  // A guardian set with one bad key among good ones: the bad one is named by its index.
  const gs = [good('g1'), good('g2'), ISSUE_KEYS['identity, sign bit set']].sort((a, b) => Buffer.compare(a, b))
  const at = gs.findIndex(g => bytesEqual(g, ISSUE_KEYS['identity, sign bit set']))
  const r = refusal(() => decodeTx(signRaw({ v: 1, chainId: CHAIN, kind: 'patient.register', sender: signer.publicKey, nonce: 0, body: { guardians: gs, threshold: 2 } }), CHAIN))
  t.same([r.code, (r.value as { field?: string } | undefined)?.field], ['TX_BAD_KEY', `tx.body.guardians[${at}]`])
})

t.test('genesis refuses a member key the key rule refuses', async t => {
  t.equal(code(() => initGenesis({ chainId: CHAIN, members: [{ name: 'a', publicKey: ISSUE_KEYS['identity, sign bit set'] }] })), 'GENESIS_INVALID')
  t.equal(code(() => initGenesis({ chainId: CHAIN, members: [{ name: 'a', publicKey: signer.publicKey }] })), 'no error')
})
