import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto'
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose'
import { fromHex, toHex } from '../../codec/index.js'
import { publicKeyFromSeed, verifyRaw } from '../../crypto/index.js'
import { NodeError } from '../errors.js'

/**
 * API bearer tokens: a compact JWT (RFC 7519) signed EdDSA with the caller's own
 * ed25519 key, like OAuth's private_key_jwt (RFC 7523) and Besu's public-key JWT
 * RPC auth. `iss` = `sub` = the caller's public key (hex); `aud` = `<chainId>:<node
 * key hex>` so a token is good at one node of one chain; `exp` - `iat` at most
 * five minutes; `jti` is spent on first use.
 */
export const MAX_TOKEN_LIFETIME_S = 300
/** Clock difference tolerated between caller and node. */
export const CLOCK_SKEW_S = 30
export const MAX_TOKEN_BYTES = 4096
/** Spent `jti`s remembered at once; each lives at most lifetime + skew. */
export const DEFAULT_REPLAY_CACHE_MAX = 200_000

export type AuthCode =
  | 'AUTH_MISSING' | 'AUTH_MALFORMED' | 'AUTH_BAD_SIGNATURE' | 'AUTH_EXPIRED' | 'AUTH_NOT_YET_VALID'
  | 'AUTH_LIFETIME_TOO_LONG' | 'AUTH_REPLAYED' | 'AUTH_WRONG_AUDIENCE' | 'AUTH_WRONG_CHAIN' | 'AUTH_UNKNOWN_KEY'

/** 401 with a stable code and, as value, the offending claim. */
export class AuthError extends NodeError {
  constructor (code: AuthCode, message: string, value?: unknown) { super(code, message, 401, value) }
}

/** What a verified token says: who signed it and the optional claims of the access table. */
export interface TokenClaims {
  /** The caller's ed25519 public key, hex. */
  key: string
  jti: string
  exp: number
  /** HL7 PurposeOfUse the caller states for this read. */
  purpose?: string
  /** Id of the caller's committed access.log transaction this read is made under. */
  access?: string
}

export function audienceOf (chainId: string, nodeKeyHex: string): string { return `${chainId}:${nodeKeyHex}` }

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const HEX64 = /^[0-9a-f]{64}$/
const JTI = /^[A-Za-z0-9_-]{16,64}$/

/** Mints tokens with one ed25519 seed (the key file the CLI already uses). */
export class TokenSigner {
  readonly publicKey: Uint8Array
  private readonly key: KeyObject
  constructor (seed: Uint8Array) {
    this.publicKey = publicKeyFromSeed(seed)
    this.key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  }

  /** A fresh single-use token for `audience`; `now` in ms. */
  async mint (audience: string, opts: { now?: number, lifetimeS?: number, purpose?: string, access?: string, jti?: string } = {}): Promise<string> {
    const iat = Math.floor((opts.now ?? Date.now()) / 1000)
    const me = toHex(this.publicKey)
    const claims: Record<string, string> = {}
    if (opts.purpose !== undefined) claims.purpose = opts.purpose
    if (opts.access !== undefined) claims.access = opts.access
    return await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
      .setIssuer(me).setSubject(me).setAudience(audience)
      .setIssuedAt(iat).setExpirationTime(iat + (opts.lifetimeS ?? 120))
      .setJti(opts.jti ?? randomBytes(16).toString('base64url'))
      .sign(this.key)
  }
}

/**
 * Spent token ids, bounded. Entries leave once their token has expired; when the
 * cache is full of live entries a new token is refused (503) rather than remembered
 * loosely, since forgetting a live jti would let it be replayed.
 */
export class ReplayCache {
  private readonly spent = new Map<string, number>()
  constructor (private readonly max = DEFAULT_REPLAY_CACHE_MAX) {}
  get size (): number { return this.spent.size }

  /** Records `id` as spent until `untilS`; false when it was already spent. */
  spend (id: string, untilS: number, nowS: number): boolean {
    if (this.spent.has(id)) return false
    if (this.spent.size >= this.max) this.sweep(nowS)
    if (this.spent.size >= this.max) throw new NodeError('AUTH_REPLAY_CACHE_FULL', `${this.max} live tokens remembered; retry shortly`, 503, this.max)
    this.spent.set(id, untilS)
    return true
  }

  sweep (nowS: number): void {
    for (const [id, until] of this.spent) if (until + CLOCK_SKEW_S < nowS) this.spent.delete(id)
  }
}

function b64urlBytes (part: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) return null
  return new Uint8Array(Buffer.from(part, 'base64url'))
}

/**
 * Checks a bearer token in a fixed order, so each failure has one code: form, signature
 * under the chain's one ed25519 rule (crypto/verifyRaw), chain and audience, times, then
 * replay. Whether the key is registered is the caller's next step (AUTH_UNKNOWN_KEY).
 */
export function verifyToken (token: string, expect: { chainId: string, nodeKey: string, nowMs: number, replay: ReplayCache }): TokenClaims {
  if (token.length > MAX_TOKEN_BYTES) throw new AuthError('AUTH_MALFORMED', `token longer than ${MAX_TOKEN_BYTES} bytes`, token.length)
  const parts = token.split('.')
  if (parts.length !== 3) throw new AuthError('AUTH_MALFORMED', 'token is not a compact JWS (three dot-separated parts)')
  let header: ReturnType<typeof decodeProtectedHeader>
  let payload: ReturnType<typeof decodeJwt>
  try { header = decodeProtectedHeader(token); payload = decodeJwt(token) } catch (err) { throw new AuthError('AUTH_MALFORMED', `token does not decode: ${(err as Error).message}`) }
  if (header.alg !== 'EdDSA' && header.alg !== 'Ed25519') throw new AuthError('AUTH_MALFORMED', `alg must be EdDSA, got ${String(header.alg)}`, header.alg)
  if (header.crit !== undefined) throw new AuthError('AUTH_MALFORMED', 'crit header parameters are not supported', header.crit)
  const key = payload.iss
  if (typeof key !== 'string' || !HEX64.test(key)) throw new AuthError('AUTH_MALFORMED', 'iss must be the caller\'s ed25519 public key (64 lower-case hex)', key)
  if (payload.sub !== key) throw new AuthError('AUTH_MALFORMED', 'sub must equal iss', payload.sub)
  const sig = b64urlBytes(parts[2])
  if (sig === null || !verifyRaw(fromHex(key, 32), Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'), sig)) throw new AuthError('AUTH_BAD_SIGNATURE', 'signature does not verify under iss', key)

  const aud = payload.aud
  if (typeof aud !== 'string') throw new AuthError('AUTH_WRONG_AUDIENCE', `aud must be "<chainId>:<node key>", got ${JSON.stringify(aud)}`, aud)
  const cut = aud.lastIndexOf(':')
  const audChain = cut < 0 ? aud : aud.slice(0, cut)
  if (audChain !== expect.chainId) throw new AuthError('AUTH_WRONG_CHAIN', `token is for chain ${audChain}, this is ${expect.chainId}`, audChain)
  if (aud.slice(cut + 1) !== expect.nodeKey) throw new AuthError('AUTH_WRONG_AUDIENCE', `token is for node ${aud.slice(cut + 1)}, this is ${expect.nodeKey}`, aud)

  const { iat, exp, jti } = payload
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isInteger(iat) || !Number.isInteger(exp)) throw new AuthError('AUTH_MALFORMED', 'iat and exp must be integer seconds', { iat, exp })
  if (exp - iat > MAX_TOKEN_LIFETIME_S || exp <= iat) throw new AuthError('AUTH_LIFETIME_TOO_LONG', `exp - iat must be in 1..${MAX_TOKEN_LIFETIME_S} s`, exp - iat)
  const nowS = Math.floor(expect.nowMs / 1000)
  if (exp + CLOCK_SKEW_S <= nowS) throw new AuthError('AUTH_EXPIRED', `token expired at ${exp}, now ${nowS}`, exp)
  if (iat - CLOCK_SKEW_S > nowS) throw new AuthError('AUTH_NOT_YET_VALID', `token issued at ${iat}, in the future (now ${nowS})`, iat)
  if (typeof jti !== 'string' || !JTI.test(jti)) throw new AuthError('AUTH_MALFORMED', 'jti must be 16..64 base64url characters', jti)

  const purpose = payload.purpose
  const access = payload.access
  if (purpose !== undefined && (typeof purpose !== 'string' || !/^[A-Z]{2,16}$/.test(purpose))) throw new AuthError('AUTH_MALFORMED', 'purpose must be an HL7 PurposeOfUse code', purpose)
  if (access !== undefined && (typeof access !== 'string' || !HEX64.test(access))) throw new AuthError('AUTH_MALFORMED', 'access must be a transaction id (64 hex)', access)
  // Spent last: a token refused for any other reason does not use up its id.
  if (!expect.replay.spend(`${key}:${jti}`, exp, nowS)) throw new AuthError('AUTH_REPLAYED', `token ${jti} was already used`, jti)
  return { key, jti, exp, ...(purpose !== undefined ? { purpose } : {}), ...(access !== undefined ? { access } : {}) }
}

/** The bearer token of a request: `Authorization: Bearer …`, or `access_token` in the query for EventSource (RFC 6750 §2.3). */
export function bearerOf (authorization: string | undefined, queryToken: string | undefined): string {
  if (authorization !== undefined) {
    const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization)
    if (m === null) throw new AuthError('AUTH_MALFORMED', 'Authorization must be "Bearer <jwt>"')
    return m[1]
  }
  if (queryToken !== undefined) return queryToken
  throw new AuthError('AUTH_MISSING', 'this route needs a bearer token signed with a registered key (see docs/access-table.md)')
}
