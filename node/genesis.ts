import { readFileSync } from 'node:fs'
import { encode, fromHex, toHex, s, CodecError } from '../codec/index.js'
import { sha256 } from '../crypto/index.js'
import { NodeError } from './errors.js'

/**
 * genesis.json: the chain's identity and its founding consortium. Every member
 * hospital runs one validator, whose key is both its consensus key, its libp2p
 * identity (so the allow-list is the validator set) and its member signing key.
 */
export interface GenesisValidator { name: string, publicKey: string, power: number, p2p: string }
export interface Genesis { chainId: string, genesisTime: number, validators: GenesisValidator[] }

const GenesisSchema = s.struct({
  chainId: s.text(64, /^[a-z0-9][a-z0-9-]{0,62}$/),
  genesisTime: s.uint(),
  validators: s.array(s.struct({
    name: s.text(64, /^[A-Za-z0-9._-]+$/),
    publicKey: s.text(64, /^[0-9a-f]{64}$/),
    power: s.uint(1_000_000),
    p2p: s.text(256)
  }), 100, 1)
})

export function parseGenesis (json: string): Genesis {
  let raw: unknown
  try { raw = JSON.parse(json) } catch (err) { throw new NodeError('GENESIS_MALFORMED', `genesis.json is not JSON: ${(err as Error).message}`) }
  let g: Genesis
  try { g = GenesisSchema.check(raw, '') } catch (err) {
    if (err instanceof CodecError) throw new NodeError('GENESIS_MALFORMED', `genesis.json: ${err.message}`, 400, err.value)
    throw err
  }
  const keys = new Set(g.validators.map(v => v.publicKey))
  if (keys.size !== g.validators.length) throw new NodeError('GENESIS_MALFORMED', 'genesis.json: duplicate validator key')
  const names = new Set(g.validators.map(v => v.name))
  if (names.size !== g.validators.length) throw new NodeError('GENESIS_MALFORMED', 'genesis.json: duplicate validator name')
  if (g.validators.some(v => v.power === 0)) throw new NodeError('GENESIS_MALFORMED', 'genesis.json: validator power must be positive')
  return g
}

export function readGenesis (path: string): Genesis {
  let text: string
  try { text = readFileSync(path, 'utf8') } catch { throw new NodeError('GENESIS_MISSING', `no genesis file at ${path}`, 400, path) }
  return parseGenesis(text)
}

/** sha256 of the canonical CBOR of the genesis: two nodes agree on the chain iff this matches. */
export function genesisHash (g: Genesis): Uint8Array {
  return sha256(encode(g))
}

export function genesisHashHex (g: Genesis): string { return toHex(genesisHash(g)) }

export function validatorKeys (g: Genesis): Uint8Array[] {
  return g.validators.map(v => fromHex(v.publicKey, 32))
}
