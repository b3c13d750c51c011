import { toHex, toBase64 } from '../codec/index.js'
import { buildTx, type TxBody, type TxKind, type TxSigner, type BuiltTx } from '../ledger/index.js'

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) { super(message); this.name = 'ApiError' }
}

/**
 * A small HTTP client of a node: builds and signs every transaction kind, submits
 * it, and reads queries. Used by the CLI, the benchmark and the integration tests.
 */
export class MedchainClient {
  private chainIdCache: string | null = null
  constructor (readonly baseUrl: string) {}

  async get<T = unknown> (path: string): Promise<T> {
    const res = await fetch(this.baseUrl + path)
    return await this.parse<T>(res)
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
    const res = await fetch(`${this.baseUrl}/v1/txs${q}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: bytes as Uint8Array<ArrayBuffer> })
    return await this.parse(res)
  }

  /** Submits as JSON with base64, the form browsers and curl users send. */
  async submitJson (bytes: Uint8Array, opts: { wait?: boolean } = {}): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}/v1/txs${opts.wait === true ? '?wait=commit' : ''}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tx: toBase64(bytes) }) })
    return await this.parse(res)
  }

  async send<K extends TxKind> (kind: K, body: TxBody<K>, signer: TxSigner, opts: { wait?: boolean, nonce?: number } = {}): Promise<Record<string, unknown> & { id: string }> {
    const built = await this.build(kind, body, signer, opts.nonce)
    const res = await this.submit(built.bytes, { wait: opts.wait })
    return { ...res, id: toHex(built.id) }
  }
}
