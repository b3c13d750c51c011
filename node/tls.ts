import { readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { NodeError } from './errors.js'

/** The API's TLS key, certificate and optional client CA from config.toml paths (relative to the home), or null. */
export function tlsMaterial (home: string, api: { tlsCert: string, tlsKey: string, tlsClientCa: string }): { key: Buffer, cert: Buffer, ca?: Buffer } | null {
  if (api.tlsCert === '') return null
  const read = (what: string, path: string): Buffer => {
    const full = isAbsolute(path) ? path : join(home, path)
    try { return readFileSync(full) } catch (err) { throw new NodeError('CONFIG_TLS_UNREADABLE', `${what} ${full}: ${(err as Error).message}`, 400, full) }
  }
  return {
    key: read('api.tlsKey', api.tlsKey),
    cert: read('api.tlsCert', api.tlsCert),
    ...(api.tlsClientCa !== '' ? { ca: read('api.tlsClientCa', api.tlsClientCa) } : {})
  }
}
