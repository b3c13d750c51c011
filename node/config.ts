import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'smol-toml'
import { NodeError } from './errors.js'

/**
 * Every configuration key of a node, with its default. config.toml in the node home
 * may set any subset; unknown keys are refused so a typo never silently does nothing.
 */
export interface NodeConfig {
  moniker: string
  /**
   * tlsCert/tlsKey (PEM paths, relative to the home) turn on HTTPS; tlsClientCa also requires
   * client certificates from that CA (mTLS). Without TLS the API binds loopback only.
   * Rate limits are requests per minute per identity (0 = none). plainHttpOnNetwork lets a
   * closed test network (network namespaces) serve plain HTTP off loopback; never set it where
   * patient data crosses a real network.
   */
  api: { host: string, port: number, maxBodyBytes: number, tlsCert: string, tlsKey: string, tlsClientCa: string, readsPerMinute: number, writesPerMinute: number, plainHttpOnNetwork: boolean }
  /** Prometheus listener, apart from the API so that patients' API port never exposes it. */
  metrics: { host: string, port: number }
  p2p: { host: string, port: number }
  consensus: { proposeMs: number, prevoteMs: number, precommitMs: number, deltaMs: number, commitMs: number, createEmptyBlocksMs: number }
  block: { maxTxs: number, maxBytes: number }
  mempool: { maxTxs: number, maxBytes: number, maxPerSender: number, maxNonceGap: number, ttlMs: number }
  log: { level: 'debug' | 'info' | 'warn' | 'error' }
}

export const DEFAULT_CONFIG: NodeConfig = {
  moniker: 'validator',
  api: { host: '127.0.0.1', port: 26600, maxBodyBytes: 1024 * 1024, tlsCert: '', tlsKey: '', tlsClientCa: '', readsPerMinute: 60_000, writesPerMinute: 600_000, plainHttpOnNetwork: false },
  metrics: { host: '127.0.0.1', port: 26602 },
  p2p: { host: '127.0.0.1', port: 26601 },
  consensus: { proposeMs: 3000, prevoteMs: 1000, precommitMs: 1000, deltaMs: 500, commitMs: 0, createEmptyBlocksMs: 1000 },
  block: { maxTxs: 4000, maxBytes: 2 * 1024 * 1024 },
  mempool: { maxTxs: 200_000, maxBytes: 128 * 1024 * 1024, maxPerSender: 20_000, maxNonceGap: 20_000, ttlMs: 600_000 },
  log: { level: 'info' }
}

/** Keys that were replaced: refused with what to write instead, not with a bare "unknown". */
const REPLACED_KEYS: Record<string, string> = {
  'mempool.ttlBlocks': 'mempool.ttlMs (milliseconds a transaction may wait in the mempool; blocks come at 1 to 15 per second, so a count of blocks meant anything from 40 s to 10 min)'
}

function merge (path: string, defaults: Record<string, unknown>, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...defaults }
  for (const [key, value] of Object.entries(given)) {
    const where = path === '' ? key : `${path}.${key}`
    if (where in REPLACED_KEYS) throw new NodeError('CONFIG_KEY_REPLACED', `config key ${where} was replaced by ${REPLACED_KEYS[where]}`, 400, where)
    if (!(key in defaults)) throw new NodeError('CONFIG_UNKNOWN_KEY', `unknown config key ${where}`, 400, where)
    const def = defaults[key]
    if (typeof def === 'object' && def !== null) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new NodeError('CONFIG_WRONG_TYPE', `${where} must be a table`, 400, value)
      out[key] = merge(where, def as Record<string, unknown>, value as Record<string, unknown>)
    } else if (typeof def === 'number') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new NodeError('CONFIG_WRONG_TYPE', `${where} must be a non-negative integer`, 400, value)
      out[key] = value
    } else if (typeof value !== typeof def) {
      throw new NodeError('CONFIG_WRONG_TYPE', `${where} must be a ${typeof def}`, 400, value)
    } else {
      out[key] = value
    }
  }
  return out
}

export function parseConfig (toml: string): NodeConfig {
  let given: Record<string, unknown>
  try { given = parse(toml) as Record<string, unknown> } catch (err) { throw new NodeError('CONFIG_MALFORMED', `config.toml: ${(err as Error).message}`) }
  const config = merge('', DEFAULT_CONFIG as unknown as Record<string, unknown>, given) as unknown as NodeConfig
  if (!['debug', 'info', 'warn', 'error'].includes(config.log.level)) throw new NodeError('CONFIG_WRONG_TYPE', 'log.level must be debug|info|warn|error', 400, config.log.level)
  if ((config.api.tlsCert === '') !== (config.api.tlsKey === '')) throw new NodeError('CONFIG_TLS_INCOMPLETE', 'api.tlsCert and api.tlsKey go together', 400, config.api.tlsCert === '' ? 'api.tlsCert' : 'api.tlsKey')
  if (config.api.tlsClientCa !== '' && config.api.tlsCert === '') throw new NodeError('CONFIG_TLS_INCOMPLETE', 'api.tlsClientCa needs api.tlsCert and api.tlsKey', 400, 'api.tlsClientCa')
  // Patient data never crosses a network in clear: plain HTTP is for this machine only.
  if (config.api.tlsCert === '' && !isLoopback(config.api.host) && !config.api.plainHttpOnNetwork) throw new NodeError('CONFIG_PLAIN_HTTP_PUBLIC', `api.host ${config.api.host} is not loopback: name api.tlsCert and api.tlsKey to serve HTTPS there (api.plainHttpOnNetwork = true only on a closed test network)`, 400, config.api.host)
  return config
}

export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

export function readConfig (home: string): NodeConfig {
  const path = join(home, 'config.toml')
  let text: string
  try { text = readFileSync(path, 'utf8') } catch { throw new NodeError('CONFIG_MISSING', `no config at ${path}; run medchain init --home ${home}`, 400, path) }
  return parseConfig(text)
}

export function writeConfig (home: string, config: NodeConfig): void {
  writeFileSync(join(home, 'config.toml'), '# medchain node configuration; every key is optional (defaults in node/config.ts)\n' + stringify(config) + '\n')
}
