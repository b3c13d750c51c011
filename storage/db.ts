import { ClassicLevel } from 'classic-level'
import { StorageError } from './errors.js'

/** The one LevelDB of a node: binary keys and values only; repositories do their own encoding. */
export type Db = ClassicLevel<Uint8Array, Uint8Array>

export interface DbOptions {
  /** LevelDB block cache in bytes (default 8 MiB). */
  cacheSize?: number
  /** Memtable size in bytes (default 16 MiB: fewer flushes during block sync). */
  writeBufferSize?: number
}

function causeCode (err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } }).cause
  return typeof cause?.code === 'string' ? cause.code : undefined
}

/** Opens (creating if missing) the LevelDB at `location`; maps failures to STORE_LOCKED / STORE_CORRUPT / STORE_OPEN_FAILED. */
export async function openDb (location: string, options: DbOptions = {}): Promise<Db> {
  const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(location, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    cacheSize: options.cacheSize ?? 8 * 1024 * 1024,
    writeBufferSize: options.writeBufferSize ?? 16 * 1024 * 1024
  })
  try {
    await db.open({ createIfMissing: true, errorIfExists: false })
  } catch (err) {
    const code = causeCode(err)
    const detail = (err as { cause?: Error }).cause?.message ?? (err as Error).message
    if (code === 'LEVEL_LOCKED') {
      throw new StorageError('STORE_LOCKED', `database ${location} is locked by another process or handle (is a node already running on this home?): ${detail}`, location, { cause: err })
    }
    if (code === 'LEVEL_CORRUPTION') {
      throw new StorageError('STORE_CORRUPT', `LevelDB at ${location} is corrupt: ${detail}`, location, { cause: err })
    }
    throw new StorageError('STORE_OPEN_FAILED', `cannot open database at ${location}: ${detail}`, location, { cause: err })
  }
  return db
}

/** LevelDB hands back Buffers; callers get plain Uint8Array views of the same memory. */
export function asView (bytes: Uint8Array): Uint8Array
export function asView (bytes: Uint8Array | undefined): Uint8Array | undefined
export function asView (bytes: Uint8Array | undefined): Uint8Array | undefined {
  if (bytes === undefined || bytes.constructor === Uint8Array) return bytes
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
