import { toHex, toBase64 } from '../codec/index.js'
import { buildTx, seedSigner, type TxBody, type TxKind, type TxSigner, type BuiltTx } from '../ledger/index.js'
import { TokenSigner, audienceOf } from '../node/auth/token.js'

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) { super(message); this.name = 'ApiError' }
}

/**
 * A small HTTP client of a node: builds and signs every transaction kind, submits
 * it, and reads queries. Used by the CLI, the benchmark and the integration tests.
 */
export interface ReadOptions {
  /** HL7 PurposeOfUse stated for this read (token claim `purpose`). */
  purpose?: string
  /** The caller's committed access.log this read is made under (token claim `access`). */
  access?: string
}

export class MedchainClient {
  private chainIdCache: string | null = null
  private audienceCache: string | null = null
  private readonly tokens: TokenSigner | null
  private readonly signer: TxSigner | null
  /**
   * `key`: the caller's ed25519 seed (the same key file as for transactions): every
   * request then carries a fresh single-use token signed with it (docs/access-table.md).
   */
  constructor (readonly baseUrl: string, opts: { key?: Uint8Array } = {}) {
    this.tokens = opts.key === undefined ? null : new TokenSigner(opts.key)
    this.signer = opts.key === undefined ? null : seedSigner(opts.key)
  }

  /** The same node and key with another caller's key. */
  as (key: Uint8Array): MedchainClient { return new MedchainClient(this.baseUrl, { key }) }

  get publicKey (): Uint8Array | null { return this.tokens?.publicKey ?? null }

  /** `Authorization` for one request: a token for this node's audience, spent on use. */
  async authHeaders (opts: ReadOptions = {}): Promise<Record<string, string>> {
    if (this.tokens === null) return {}
    if (this.audienceCache === null) {
      const s = await this.parse<{ chainId: string, nodeKey: string }>(await fetch(this.baseUrl + '/v1/status'))
      this.chainIdCache = s.chainId
      this.audienceCache = audienceOf(s.chainId, s.nodeKey)
    }
    return { authorization: `Bearer ${await this.tokens.mint(this.audienceCache, opts)}` }
  }

  async get<T = unknown> (path: string, opts: ReadOptions = {}): Promise<T> {
    const res = await fetch(this.baseUrl + path, { headers: await this.authHeaders(opts) })
    return await this.parse<T>(res)
  }

  /**
   * A provider's read of a patient's records (docs/access-table.md, P2): logs the access
   * on chain first (signed by the provider, decided by the ledger), then reads under it.
   */
  async readRecordsAsProvider<T = unknown> (patient: string, what: { category?: string, record?: string, purpose: string }): Promise<T & { access: { log: string } }> {
    if (this.signer === null) throw new ApiError(0, 'CLIENT_NO_KEY', 'a provider read needs the provider\'s key')
    const body = { patient: Buffer.from(patient, 'hex'), action: 'read', purpose: what.purpose, ...(what.record !== undefined ? { record: Buffer.from(what.record, 'hex') } : { category: what.category }) }
    const logged = await this.send('access.log', body as never, this.signer, { wait: true })
    if (logged.status !== 'committed') throw new ApiError(0, 'CLIENT_ACCESS_NOT_COMMITTED', `access.log ${logged.id} did not commit: ${JSON.stringify(logged)}`)
    return await this.get(`/v1/patients/${patient}/records`, { purpose: what.purpose, access: logged.id })
  }

  private async parse<T> (res: Response): Promise<T> {
    const text = await res.text()
    let body: unknown
    try { body = JSON.parse(text) } catch { throw new ApiError(res.status, 'API_NOT_JSON', text.slice(0, 200)) }
    if (!res.ok) {
      const err = (body as { error?: { code?: string, message?: string } }).error
      throw new ApiError(res.status, err?.code ?? 'HTTP_' + res.status, err?.message ?? text)
    }
    return body as T
  }

  async chainId (): Promise<string> {
    if (this.chainIdCache === null) this.chainIdCache = (await this.get<{ chainId: string }>('/v1/status')).chainId
    return this.chainIdCache
  }

  /** The nonce the sender's next transaction should use (counting its pending ones). */
  async nextNonce (sender: Uint8Array): Promise<number> {
    return (await this.get<{ nextPendingNonce: number }>(`/v1/accounts/${toHex(sender)}`)).nextPendingNonce
  }

  async build<K extends TxKind> (kind: K, body: TxBody<K>, signer: TxSigner, nonce?: number): Promise<BuiltTx> {
    return buildTx(kind, body, { chainId: await this.chainId(), signer, nonce: nonce ?? await this.nextNonce(signer.publicKey) })
  }

  /** Submits signed bytes as application/cbor; with wait, answers once committed. */
  async submit (bytes: Uint8Array, opts: { wait?: boolean, timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    const q = opts.wait === true ? `?wait=commit&timeoutMs=${opts.timeoutMs ?? 30_000}` : ''
    const res = await fetch(`${this.baseUrl}/v1/txs${q}`, { method: 'POST', headers: { 'content-type': 'application/cbor', ...await this.authHeaders() }, body: bytes as Uint8Array<ArrayBuffer> })
    return await this.parse(res)
  }

  /** Submits as JSON with base64, the form browsers and curl users send. */
  async submitJson (bytes: Uint8Array, opts: { wait?: boolean } = {}): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}/v1/txs${opts.wait === true ? '?wait=commit' : ''}`, { method: 'POST', headers: { 'content-type': 'application/json', ...await this.authHeaders() }, body: JSON.stringify({ tx: toBase64(bytes) }) })
    return await this.parse(res)
  }

  async send<K extends TxKind> (kind: K, body: TxBody<K>, signer: TxSigner, opts: { wait?: boolean, nonce?: number } = {}): Promise<Record<string, unknown> & { id: string }> {
    const built = await this.build(kind, body, signer, opts.nonce)
    const res = await this.submit(built.bytes, { wait: opts.wait })
    return { ...res, id: toHex(built.id) }
  }
}
