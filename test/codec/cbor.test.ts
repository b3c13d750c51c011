import t from 'tap'
import { decode, encode, fromHex, toHex, CodecError, s, fromBase64, toBase64 } from '../../codec/index.js'

const limits = { maxBytes: 64, maxDepth: 3 }

function codeOf (fn: () => unknown): string {
  try { fn(); return 'NO_ERROR' } catch (err) { return err instanceof CodecError ? err.code : `THREW ${(err as Error).message}` }
}

t.test('canonical round trip sorts map keys bytewise and keeps bytes', async t => {
  const bytes = encode({ zz: 1, a: new Uint8Array([1, 2]), b: [1, 'x'] })
  t.equal(toHex(bytes), 'a36161420102616282016178627a7a01')
  t.same(decode(bytes), { a: new Uint8Array([1, 2]), b: [1, 'x'], zz: 1 })
})

t.test('rejections, each with its stable code', async t => {
  const cases: Array<[string, string, string]> = [
    ['', 'CODEC_EMPTY', 'empty input'],
    ['a2616101616101', 'CODEC_NON_CANONICAL', 'duplicate map key'],
    ['a2616201616101', 'CODEC_NON_CANONICAL', 'unsorted map keys'],
    ['1817', 'CODEC_NON_CANONICAL', 'non-minimal integer'],
    ['1900ff', 'CODEC_NON_CANONICAL', 'non-minimal 16-bit integer'],
    ['5801ff', 'CODEC_NON_CANONICAL', 'non-minimal byte-string length'],
    ['9f01ff', 'CODEC_NON_CANONICAL', 'indefinite-length array'],
    ['bf616101ff', 'CODEC_NON_CANONICAL', 'indefinite-length map'],
    ['f93c00', 'CODEC_NON_CANONICAL', 'float (half precision 1.0)'],
    ['8181818101', 'CODEC_TOO_DEEP', 'nesting past the depth limit'],
    ['9a7fffffff', 'CODEC_MALFORMED', 'array length larger than the input'],
    ['5a7fffffff00', 'CODEC_MALFORMED', 'byte string length larger than the input'],
    ['0102', 'CODEC_TRAILING_BYTES', 'two items'],
    ['c101', 'CODEC_MALFORMED', 'a tag'],
    ['f7', 'CODEC_MALFORMED', 'undefined'],
    ['82', 'CODEC_MALFORMED', 'truncated array'],
    ['ff', 'CODEC_NON_CANONICAL', 'a lone break byte'],
    ['1c', 'CODEC_MALFORMED', 'reserved additional info']
  ]
  for (const [hex, code, what] of cases) {
    t.equal(codeOf(() => decode(fromHex(hex), limits)), code, `${what}: ${hex}`)
  }
  t.equal(codeOf(() => decode(new Uint8Array(65), limits)), 'CODEC_OVERSIZE', 'over maxBytes')
  t.equal(codeOf(() => decode(encode([[[1]]]), limits)), 'NO_ERROR', 'exactly at the depth limit')
})

t.test('deep nesting far past the stack is refused without recursion', async t => {
  const deep = new Uint8Array(100_000).fill(0x81)
  t.equal(codeOf(() => decode(deep, { maxBytes: 200_000, maxDepth: 32 })), 'CODEC_TOO_DEEP')
})

t.test('closed struct schema', async t => {
  const Thing = s.struct({ n: s.uint(100), name: s.text(8), key: s.bytes(4), tags: s.sortedSet(s.text(4), 3), note: s.optional(s.text(10)) })
  const ok = { n: 5, name: 'abc', key: new Uint8Array(4), tags: ['a', 'b'] }
  t.same(Thing.check(ok, ''), ok)
  t.equal(codeOf(() => Thing.check({ ...ok, extra: 1 }, '')), 'CODEC_UNKNOWN_FIELD')
  t.equal(codeOf(() => Thing.check({ ...ok, n: '5' }, '')), 'CODEC_WRONG_TYPE')
  t.equal(codeOf(() => Thing.check({ ...ok, n: -1 }, '')), 'CODEC_OUT_OF_RANGE')
  t.equal(codeOf(() => Thing.check({ ...ok, n: 101 }, '')), 'CODEC_OUT_OF_RANGE')
  t.equal(codeOf(() => Thing.check({ ...ok, n: 1.5 }, '')), 'CODEC_WRONG_TYPE')
  t.equal(codeOf(() => Thing.check({ ...ok, key: new Uint8Array(5) }, '')), 'CODEC_OUT_OF_RANGE')
  t.equal(codeOf(() => Thing.check({ ...ok, tags: ['b', 'a'] }, '')), 'CODEC_NON_CANONICAL')
  t.equal(codeOf(() => Thing.check({ ...ok, tags: ['a', 'a'] }, '')), 'CODEC_NON_CANONICAL')
  t.equal(codeOf(() => Thing.check({ n: 1, name: 'a', key: new Uint8Array(4) }, '')), 'CODEC_MISSING_FIELD')
  t.equal(codeOf(() => Thing.check([1], '')), 'CODEC_WRONG_TYPE')
  const err = (() => { try { Thing.check({ ...ok, name: 'toolongname' }, '') } catch (e) { return e as CodecError } })()
  t.equal(err?.path, 'name', 'error names the failing field')
})

t.test('hex and base64 accept one spelling', async t => {
  t.equal(codeOf(() => fromHex('ABCD')), 'CODEC_BAD_HEX')
  t.equal(codeOf(() => fromHex('abc')), 'CODEC_BAD_HEX')
  t.equal(codeOf(() => fromHex('abcd', 3)), 'CODEC_BAD_HEX')
  t.same(fromBase64(toBase64(new Uint8Array([250, 251, 252]))), new Uint8Array([250, 251, 252]))
  t.same(fromBase64('-_-_'), new Uint8Array(Buffer.from('-_-_', 'base64url')))
  t.equal(codeOf(() => fromBase64('not base64!')), 'CODEC_BAD_BASE64')
})
