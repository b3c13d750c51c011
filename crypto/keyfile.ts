import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fromHex, toHex } from '../codec/index.js'
import { publicKeyFromSeed } from './ed25519.js'

export class KeyFileError extends Error {
  readonly code: 'KEYFILE_MISSING' | 'KEYFILE_PERMISSIONS' | 'KEYFILE_MALFORMED' | 'KEYFILE_MISMATCH'
  readonly path: string
  constructor (code: KeyFileError['code'], path: string, message: string) {
    super(`${path}: ${message}`)
    this.name = 'KeyFileError'
    this.code = code
    this.path = path
  }
}

export interface KeyPair { seed: Uint8Array, publicKey: Uint8Array }

/** Writes `{type, publicKey, seed}` as JSON readable by the owner only (0600). */
export function writeKeyFile (path: string, seed: Uint8Array): KeyPair {
  const publicKey = publicKeyFromSeed(seed)
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  writeFileSync(path, JSON.stringify({ type: 'ed25519', publicKey: toHex(publicKey), seed: toHex(seed) }, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  return { seed, publicKey }
}

/** Reads a key file, refusing one that group or others can read. */
export function readKeyFile (path: string): KeyPair {
  let st
  try { st = statSync(path) } catch { throw new KeyFileError('KEYFILE_MISSING', path, 'no such key file') }
  if ((st.mode & 0o077) !== 0) throw new KeyFileError('KEYFILE_PERMISSIONS', path, `mode ${(st.mode & 0o777).toString(8)} lets others read the key; chmod 600 it`)
  let parsed: { type?: unknown, publicKey?: unknown, seed?: unknown }
  try { parsed = JSON.parse(readFileSync(path, 'utf8')) } catch { throw new KeyFileError('KEYFILE_MALFORMED', path, 'not JSON') }
  if (parsed.type !== 'ed25519' || typeof parsed.seed !== 'string' || typeof parsed.publicKey !== 'string') throw new KeyFileError('KEYFILE_MALFORMED', path, 'expected {type:"ed25519", publicKey, seed}')
  let seed: Uint8Array
  try { seed = fromHex(parsed.seed, 32) } catch { throw new KeyFileError('KEYFILE_MALFORMED', path, 'seed is not 32 bytes of hex') }
  const publicKey = publicKeyFromSeed(seed)
  if (toHex(publicKey) !== parsed.publicKey) throw new KeyFileError('KEYFILE_MISMATCH', path, 'publicKey does not match seed')
  return { seed, publicKey }
}
