// API bearer tokens (node/auth/token.ts): each way a token can be wrong has its own
// stable 401 code; the signature is checked by crypto's one ed25519 rule; a spent token
// id is refused, and the replay cache stays bounded. Time is injected: no wall clock.
import t from 'tap'
import { generateSeed } from '../../crypto/index.js'
import { toHex } from '../../codec/index.js'
import { AuthError, ReplayCache, TokenSigner, audienceOf, bearerOf, verifyToken, MAX_TOKEN_LIFETIME_S, CLOCK_SKEW_S } from '../../node/auth/token.js'

const CHAIN = 'auth-test'
const NODE = toHex(new TokenSigner(generateSeed()).publicKey)
const NOW = 1_700_000_000_000
const caller = new TokenSigner(generateSeed())
const aud = audienceOf(CHAIN, NODE)

const check = (token: string, opts: { now?: number, replay?: ReplayCache } = {}): ReturnType<typeof verifyToken> =>
  verifyToken(token, { chainId: CHAIN, nodeKey: NODE, nowMs: opts.now ?? NOW, replay: opts.replay ?? new ReplayCache() })

const code = (fn: () => unknown): string => {
  try { fn() } catch (err) { if (err instanceof AuthError) { if (err.status !== 401) return `status ${err.status}`; return err.code } throw err }
  return 'accepted'
}

const codeOfMint = async (minting: Promise<string>): Promise<string> => { const token = await minting; return code(() => check(token)) }

t.test('a fresh token from the caller\'s key verifies and carries its claims', async t => {
  const token = await caller.mint(aud, { now: NOW, purpose: 'TREAT', access: 'ab'.repeat(32) })
  const claims = check(token)
  t.equal(claims.key, toHex(caller.publicKey))
  t.equal(claims.purpose, 'TREAT')
  t.equal(claims.access, 'ab'.repeat(32))
})

t.test('each defect has its code', async t => {
  t.equal(code(() => bearerOf(undefined, undefined)), 'AUTH_MISSING', 'no token')
  t.equal(code(() => bearerOf('Basic abc', undefined)), 'AUTH_MALFORMED', 'not a bearer token')
  t.equal(code(() => check('not.a-jwt')), 'AUTH_MALFORMED', 'two parts')
  t.equal(await codeOfMint(caller.mint(aud, { now: NOW - (MAX_TOKEN_LIFETIME_S + CLOCK_SKEW_S + 1) * 1000, lifetimeS: MAX_TOKEN_LIFETIME_S })), 'AUTH_EXPIRED', 'expired')
  t.equal(await codeOfMint(caller.mint(aud, { now: NOW + (CLOCK_SKEW_S + 5) * 1000 })), 'AUTH_NOT_YET_VALID', 'issued in the future')
  t.equal(await codeOfMint(caller.mint(aud, { now: NOW, lifetimeS: MAX_TOKEN_LIFETIME_S + 1 })), 'AUTH_LIFETIME_TOO_LONG', 'lives too long')
  t.equal(await codeOfMint(caller.mint(audienceOf(CHAIN, 'ff'.repeat(32)), { now: NOW })), 'AUTH_WRONG_AUDIENCE', 'another node')
  t.equal(await codeOfMint(caller.mint(audienceOf('other-chain', NODE), { now: NOW })), 'AUTH_WRONG_CHAIN', 'another chain')
  const good = await caller.mint(aud, { now: NOW })
  const [h, p, s] = good.split('.')
  const sig = Buffer.from(s, 'base64url'); sig[0] ^= 1
  t.equal(code(() => check(`${h}.${p}.${sig.toString('base64url')}`)), 'AUTH_BAD_SIGNATURE', 'flipped signature bit')
  // Claims rewritten to name another key: the signature no longer verifies under it.
  const other = toHex(new TokenSigner(generateSeed()).publicKey)
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
  const forged = Buffer.from(JSON.stringify({ ...claims, iss: other, sub: other })).toString('base64url')
  t.equal(code(() => check(`${h}.${forged}.${s}`)), 'AUTH_BAD_SIGNATURE', 'claims of another key')
  const noneAlg = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')
  t.equal(code(() => check(`${noneAlg}.${p}.`)), 'AUTH_MALFORMED', 'alg none')
  t.equal(code(() => check(good)), 'accepted', 'the untampered token still verifies')
})

t.test('a token is spent on first use; refusals for other reasons do not spend it', async t => {
  const replay = new ReplayCache()
  const token = await caller.mint(aud, { now: NOW })
  t.equal(code(() => verifyToken(token, { chainId: 'other', nodeKey: NODE, nowMs: NOW, replay })), 'AUTH_WRONG_CHAIN')
  t.equal(code(() => check(token, { replay })), 'accepted', 'first use')
  t.equal(code(() => check(token, { replay })), 'AUTH_REPLAYED', 'second use')
  // Another caller may pick the same jti without colliding.
  const mine = await caller.mint(aud, { now: NOW, jti: 'same-jti-0123456789' })
  const theirs = await new TokenSigner(generateSeed()).mint(aud, { now: NOW, jti: 'same-jti-0123456789' })
  t.equal(code(() => check(mine, { replay })), 'accepted')
  t.equal(code(() => check(theirs, { replay })), 'accepted', 'same jti, other key')
})

t.test('the replay cache is bounded: expired ids leave, a full cache of live ids refuses (503)', async t => {
  const replay = new ReplayCache(3)
  const nowS = NOW / 1000
  t.ok(replay.spend('a', nowS + 60, nowS)); t.ok(replay.spend('b', nowS + 60, nowS)); t.ok(replay.spend('c', nowS + 600, nowS))
  t.throws(() => replay.spend('d', nowS + 60, nowS), { code: 'AUTH_REPLAY_CACHE_FULL', status: 503 })
  // Later, a and b have expired (past skew): they make room; c is still live and still spent.
  const later = nowS + 60 + CLOCK_SKEW_S + 1
  t.ok(replay.spend('d', later + 60, later))
  t.equal(replay.size, 2)
  t.notOk(replay.spend('c', later + 60, later), 'c is still remembered')
})

