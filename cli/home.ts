import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { generateSeed, writeKeyFile, readKeyFile, type KeyPair } from '../crypto/index.js'
import { DEFAULT_CONFIG, writeConfig, type NodeConfig } from '../node/config.js'

/** The files of a node home folder. */
export function homePaths (home: string): { home: string, config: string, genesis: string, key: string, data: string, log: string } {
  const h = resolve(home)
  return { home: h, config: join(h, 'config.toml'), genesis: join(h, 'genesis.json'), key: join(h, 'node_key.json'), data: join(h, 'data'), log: join(h, 'node.log') }
}

/** Creates a node home with a fresh validator key and a config; refuses to overwrite a key. */
export function createHome (home: string, overrides: { moniker: string, apiPort: number, p2pPort: number, p2pHost?: string }): { key: KeyPair, config: NodeConfig } {
  const p = homePaths(home)
  if (existsSync(p.key)) throw new Error(`${p.key} already exists: refusing to overwrite a validator key`)
  mkdirSync(p.home, { recursive: true, mode: 0o700 })
  const key = writeKeyFile(p.key, generateSeed())
  const config: NodeConfig = structuredClone(DEFAULT_CONFIG)
  config.moniker = overrides.moniker
  config.api.port = overrides.apiPort
  // Testnet ports of node i: API base+10i, p2p +1, metrics +2.
  config.metrics.port = overrides.apiPort + 2
  config.p2p.port = overrides.p2pPort
  if (overrides.p2pHost !== undefined) config.p2p.host = overrides.p2pHost
  writeConfig(p.home, config)
  return { key, config }
}

export function loadKey (home: string): KeyPair { return readKeyFile(homePaths(home).key) }
