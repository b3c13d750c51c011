import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { Ed25519Signer, publicKeyProblem, verifyRaw, type PublicKeyProblem } from '../../crypto/index.js'
import { fromHex, toHex, utf8 } from '../../codec/index.js'

// The published vectors live in ../shared/vectors beside the repository (see SOURCES.md there);
// they are read in place, never copied. A missing file fails the test: it must not pass vacuously.
const VECTORS = fileURLToPath(new URL('../../../shared/vectors/', import.meta.url))
const read = (name: string): Buffer => readFileSync(VECTORS + name)

// verifyRaw is the only verifier the repository ships (verify, the ledger's signature check and
// the consensus commit check all call it), so "every path" is this one function. publicKeyProblem
// is the same rule's conditions on A, applied to keys that a transaction body names.

interface Count { vectors: number, accept: number, reject: number }
const counts: Record<string, Count> = {}
function tally (file: string, accepted: boolean): void {
  const c = counts[file] ??= { vectors: 0, accept: 0, reject: 0 }
  c.vectors++
  if (accepted) c.accept++; else c.reject++
}

interface WycheproofFile {
  numberOfTests: number
  testGroups: Array<{ publicKey: { pk: string }, tests: Array<{ tcId: number, msg: string, sig: string, result: 'valid' | 'invalid' | 'acceptable', comment: string }> }>
}

t.test('Wycheproof ed25519: the rule gives the expected result for all 151 tests', async t => {
  const w = JSON.parse(read('wycheproof-ed25519_test.json').toString('utf8')) as WycheproofFile
  let n = 0
  for (const g of w.testGroups) {
    const pk = fromHex(g.publicKey.pk)
    for (const v of g.tests) {
      n++
      const got = verifyRaw(pk, fromHex(v.msg), fromHex(v.sig))
      tally('wycheproof', got)
      // No Wycheproof ed25519 test is "acceptable": each is valid or invalid, and the rule agrees with all.
      if (got !== (v.result === 'valid')) t.fail(`tcId ${v.tcId} (${v.comment}): got ${got ? 'accept' : 'reject'}, expected ${v.result}`)
      if (got && publicKeyProblem(pk) !== null) t.fail(`tcId ${v.tcId}: a key that verifies is refused as a key (${publicKeyProblem(pk) ?? ''})`)
    }
  }
  t.equal(n, w.numberOfTests, 'every test of the file was run')
  t.same(counts.wycheproof, { vectors: 151, accept: 88, reject: 63 })
})

t.test('ed25519-speccheck: the rule accepts only case 3 (both equations hold, no small order, canonical, S < L)', async t => {
  const cases = JSON.parse(read('speccheck-cases.json').toString('utf8')) as Array<{ message: string, pub_key: string, signature: string }>
  // The rule's answer for each case and why; the table in crypto/README.md says the same.
  const expected: Array<[boolean, string]> = [
    [false, 'small-order A and R, S = 0'],
    [false, 'small-order A'],
    [false, 'small-order R'],
    [true, 'mixed-order A and R, cofactorless equation holds'],
    [false, 'only the cofactored equation holds'],
    [false, 'only the cofactored equation holds (R of order L)'],
    [false, 'S >= L'],
    [false, 'S much larger than L'],
    [false, 'R is the order-2 point spelt with the sign bit set'],
    [false, 'R is the order-2 point spelt with the sign bit set'],
    [false, 'A is the order-2 point spelt with the sign bit set (issue 10)'],
    [false, 'A is the order-2 point spelt with the sign bit set (issue 10)']
  ]
  t.equal(cases.length, expected.length, '12 cases')
  cases.forEach((c, i) => {
    const got = verifyRaw(fromHex(c.pub_key), fromHex(c.message), fromHex(c.signature))
    tally('speccheck', got)
    t.equal(got, expected[i][0], `case ${i}: ${expected[i][0] ? 'accept' : 'reject'}: ${expected[i][1]}`)
  })
  t.same(counts.speccheck, { vectors: 12, accept: 1, reject: 11 })
})

t.test('C2SP CCTV ed25519: every vector as the rule says from its flags', async t => {
  const vectors = JSON.parse(gunzipSync(read('cctv-ed25519vectors.json.gz')).toString('utf8')) as Array<{ number: number, key: string, sig: string, msg: string, flags: string[] | null }>
  // The rule refuses a small-order or non-canonical A or R, and a signature for which only the
  // cofactored equation holds (low_order_residue). Every other vector there is a valid signature.
  const REFUSED = new Set(['low_order_A', 'low_order_R', 'non_canonical_A', 'non_canonical_R', 'low_order_residue'])
  const wrong: number[] = []
  const keyWrong: number[] = []
  for (const v of vectors) {
    const flags = v.flags ?? []
    const pk = fromHex(v.key)
    const got = verifyRaw(pk, utf8(v.msg), fromHex(v.sig))
    tally('cctv', got)
    if (got !== !flags.some(f => REFUSED.has(f))) wrong.push(v.number)
    const badKey = flags.includes('low_order_A') || flags.includes('non_canonical_A')
    if ((publicKeyProblem(pk) !== null) !== badKey) keyWrong.push(v.number)
  }
  t.same(wrong, [], 'verifyRaw gives the rule\'s answer for every vector')
  t.same(keyWrong, [], 'publicKeyProblem refuses exactly the low-order and non-canonical A')
  t.same(counts.cctv, { vectors: 914, accept: 43, reject: 871 })
})

t.test('RFC 8032 §7.1 (OpenSSL excerpt): keys, signatures, verification; same as Wycheproof tcId 80-83', async t => {
  const text = read('rfc8032-ed25519-openssl-evppkey_ecx.txt').toString('utf8')
  // PEM blocks: the raw seed and key are the last 32 bytes of the PKCS#8 / SPKI DER.
  const pems = new Map<string, Uint8Array>()
  for (const m of text.matchAll(/(PrivateKey|PublicKey)=(\S+)\n-----BEGIN [A-Z ]+-----\n([\s\S]*?)-----END/g)) {
    const der = Buffer.from(m[3].replace(/\s/g, ''), 'base64')
    pems.set(m[2], Uint8Array.from(der.subarray(der.length - 32)))
  }
  const tests = [...text.matchAll(/OneShotDigestSign = NULL\nKey = (\S+)\nInput = (\S*)\nOutput = ([0-9a-f]{128})/g)]
  t.equal(tests.length, 5, 'TEST 1, 2, 3, 1024 and SHA(abc)')
  const w = JSON.parse(read('wycheproof-ed25519_test.json').toString('utf8')) as WycheproofFile
  const byTcId = new Map(w.testGroups.flatMap(g => g.tests.map(v => [v.tcId, { pk: g.publicKey.pk, ...v }] as const)))
  tests.forEach((m, i) => {
    const [, name, input, output] = m
    const seed = pems.get(name)
    const pub = pems.get(`${name}-PUBLIC`)
    if (seed === undefined || pub === undefined) { t.fail(`no key ${name}`); return }
    const message = fromHex(input.replace(/^""$/, ''))
    const signer = new Ed25519Signer(seed)
    t.equal(toHex(signer.publicKey), toHex(pub), `${name}: public key from seed`)
    t.equal(toHex(signer.signRaw(message)), output, `${name}: signature`)
    const sig = fromHex(output)
    const ok = verifyRaw(pub, message, sig)
    tally('rfc8032', ok)
    t.ok(ok, `${name}: verifies`)
    const flipped = sig.slice(); flipped[0] ^= 1
    t.notOk(verifyRaw(pub, message, flipped), `${name}: a flipped bit of R does not verify`)
    if (i < 4) {
      const wy = byTcId.get(80 + i)
      t.same([wy?.pk, wy?.msg, wy?.sig], [toHex(pub), toHex(message), output], `${name} is Wycheproof tcId ${80 + i}`)
    }
  })
  t.same(counts.rfc8032, { vectors: 5, accept: 5, reject: 0 })
})

t.test('the issue\'s keys: identity and order-2 point spelt with the sign bit set', async t => {
  const B = fromHex('5866666666666666666666666666666666666666666666666666666666666666')
  // R = base point, S = 1: under the identity key A, [S]B = R + [k]A holds for every message.
  const sig = new Uint8Array(64); sig.set(B, 0); sig[32] = 1
  for (const hex of ['0100000000000000000000000000000000000000000000000000000000000080', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff']) {
    const key = fromHex(hex)
    t.equal(publicKeyProblem(key), 'small_order', `${hex.slice(0, 8)}… is refused as a key`)
    for (const msg of ['', 'anything', 'medchain/v1 tx']) t.notOk(verifyRaw(key, utf8(msg), sig), `${hex.slice(0, 8)}…: fixed signature refused for "${msg}"`)
  }
})

t.test('publicKeyProblem on every small-order and non-canonical spelling', async t => {
  const p = (1n << 255n) - 19n
  const enc = (y: bigint, sign: boolean): Uint8Array => {
    const b = new Uint8Array(32)
    for (let i = 0; i < 32; i++) b[i] = Number((y >> BigInt(8 * i)) & 0xffn)
    if (sign) b[31] |= 0x80
    return b
  }
  const got: Record<string, PublicKeyProblem | null> = {}
  // y >= p: 19 values, each with both sign bits: never canonical.
  for (let y = p; y < (1n << 255n); y++) for (const sign of [false, true]) got[toHex(enc(y, sign))] = publicKeyProblem(enc(y, sign))
  t.same(new Set(Object.values(got)), new Set(['non_canonical']), 'y >= p is non_canonical (38 spellings)')
  const order8 = [fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'), fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')]
  const smallY = [enc(0n, false), enc(1n, false), enc(p - 1n, false), ...order8]
  for (const y of smallY) {
    for (const sign of [false, true]) {
      const k = y.slice(); if (sign) k[31] |= 0x80
      t.equal(publicKeyProblem(k), 'small_order', `${toHex(k)} small order`)
    }
  }
  t.equal(publicKeyProblem(enc(2n, false)), 'not_on_curve', 'y = 2 has no x on the curve')
  t.equal(publicKeyProblem(new Uint8Array(31)), 'length')
  t.equal(publicKeyProblem(new Ed25519Signer(new Uint8Array(32).fill(9)).publicKey), null, 'an ordinary key')
})

t.test('counts per file (for the closing note)', async t => {
  t.comment(JSON.stringify(counts))
  t.equal(Object.keys(counts).length, 4, 'all four files were read')
})
