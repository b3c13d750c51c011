import t from 'tap'
import { parseConfig, DEFAULT_CONFIG } from '../../node/config.js'
import { parseGenesis, genesisHash } from '../../node/genesis.js'
import { decodeTxBatch } from '../../node/txgossip.js'
import { encode, toHex } from '../../codec/index.js'

const code = (fn: () => unknown): string => { try { fn(); return 'OK' } catch (err) { return (err as { code: string }).code } }

t.test('config: defaults, overrides, refusals', async t => {
  t.same(parseConfig(''), DEFAULT_CONFIG)
  const c = parseConfig('moniker = "a"\n[api]\nport = 1234\n')
  t.equal(c.api.port, 1234)
  t.equal(c.api.host, DEFAULT_CONFIG.api.host, 'unset keys keep defaults')
  t.equal(code(() => parseConfig('[api]\nprot = 1\n')), 'CONFIG_UNKNOWN_KEY')
  t.equal(code(() => parseConfig('[api]\nport = "x"\n')), 'CONFIG_WRONG_TYPE')
  t.equal(code(() => parseConfig('[api]\nport = -1\n')), 'CONFIG_WRONG_TYPE')
  t.equal(code(() => parseConfig('api = 3\n')), 'CONFIG_WRONG_TYPE')
  t.equal(code(() => parseConfig('[log]\nlevel = "loud"\n')), 'CONFIG_WRONG_TYPE')
  t.equal(code(() => parseConfig('[api\n')), 'CONFIG_MALFORMED')
})

t.test('genesis: validated, hashed canonically', async t => {
  const v = (i: number): Record<string, unknown> => ({ name: `n${i}`, publicKey: toHex(new Uint8Array(32).fill(i + 1)), power: 1, p2p: `/ip4/127.0.0.1/tcp/${1000 + i}` })
  const g = { chainId: 'c-1', genesisTime: 5, validators: [v(0), v(1)] }
  const parsed = parseGenesis(JSON.stringify(g))
  t.equal(toHex(genesisHash(parsed)), toHex(genesisHash(parseGenesis(JSON.stringify(g, null, 4)))), 'whitespace does not change the hash')
  t.not(toHex(genesisHash(parsed)), toHex(genesisHash({ ...parsed, genesisTime: 6 })), 'any field changes the hash')
  t.equal(code(() => parseGenesis('{')), 'GENESIS_MALFORMED')
  t.equal(code(() => parseGenesis(JSON.stringify({ ...g, extra: 1 }))), 'GENESIS_MALFORMED')
  t.equal(code(() => parseGenesis(JSON.stringify({ ...g, validators: [v(0), v(0)] }))), 'GENESIS_MALFORMED')
  t.equal(code(() => parseGenesis(JSON.stringify({ ...g, validators: [] }))), 'GENESIS_MALFORMED')
  t.equal(code(() => parseGenesis(JSON.stringify({ ...g, validators: [{ ...v(0), power: 0 }] }))), 'GENESIS_MALFORMED')
  t.equal(code(() => parseGenesis(JSON.stringify({ ...g, chainId: 'Bad Id' }))), 'GENESIS_MALFORMED')
})

t.test('gossiped tx batches are bounded and typed', async t => {
  t.same(decodeTxBatch(encode([new Uint8Array([1]), new Uint8Array([2])]), 1000, 10), [new Uint8Array([1]), new Uint8Array([2])])
  t.equal(code(() => decodeTxBatch(encode([1, 2]), 1000, 10)), 'CODEC_WRONG_TYPE')
  t.equal(code(() => decodeTxBatch(encode(Array.from({ length: 11 }, () => new Uint8Array(1))), 1000, 10)), 'CODEC_WRONG_TYPE')
  t.equal(code(() => decodeTxBatch(encode([new Uint8Array(2000)]), 1000, 10)), 'CODEC_OVERSIZE')
  t.equal(code(() => decodeTxBatch(encode([[new Uint8Array(1)]]), 1000, 10)), 'CODEC_WRONG_TYPE')
  t.equal(code(() => decodeTxBatch(encode([[[new Uint8Array(1)]]]), 1000, 10)), 'CODEC_TOO_DEEP')
})

t.test('config: plain HTTP off loopback only by explicit opt-in for a closed test network', async t => {
  t.equal(code(() => parseConfig('[api]\nhost = "10.0.0.1"\n')), 'CONFIG_PLAIN_HTTP_PUBLIC', 'a network address without TLS is refused')
  t.equal(code(() => parseConfig('[api]\nhost = "127.0.0.1"\n')), 'OK', 'loopback may serve plain HTTP')
  t.equal(parseConfig('[api]\nhost = "10.0.0.1"\nplainHttpOnNetwork = true\n').api.host, '10.0.0.1', 'the opt-in lets a namespace network through')
  t.equal(code(() => parseConfig('[api]\nhost = "10.0.0.1"\nplainHttpOnNetwork = "yes"\n')), 'CONFIG_WRONG_TYPE')
})
