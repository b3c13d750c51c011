import { open, readFile, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { bytesEqual, concatBytes } from '../codec/index.js'
import { crc32 } from './crc32.js'
import { StorageError } from './errors.js'
import { elapsedSeconds, type StorageMetrics } from './metrics.js'
import { decodeRecord, encodeRecord, signerStateSchema, type SignerState } from './records.js'

/**
 * Double-sign protection (CometBFT privval last-sign state): the last height/round/step this
 * validator signed and the hash of the sign bytes. Kept in its own file, outside LevelDB, so that
 * wiping the chain data to resync does not wipe it. File: magic `MCSS` | u32be crc32(cbor) | cbor.
 * Saved with write-tmp, fdatasync, rename, fsync dir: the old state or the new one, never half.
 * Fails closed: a chain with blocks and no signer state, or a damaged one, makes load() throw.
 * The payload is the consensus SignState, which also records the proposal signed at its
 * height/round: a proposer restarted mid-round re-sends that identical signed proposal (no save:
 * nothing new is signed) instead of building another block this store would refuse to sign.
 */

const MAGIC = Uint8Array.of(0x4d, 0x43, 0x53, 0x53) // "MCSS"
const MAX_FILE_BYTES = 4096

export const FRESH_SIGNER_STATE: SignerState = Object.freeze({ height: 0, round: 0, step: 0, signBytesHash: new Uint8Array(32) }) as SignerState

/** -1, 0, 1 ordering of (height, round, step). */
export function compareHrs (a: SignerState, b: SignerState): number {
  if (a.height !== b.height) return a.height < b.height ? -1 : 1
  if (a.round !== b.round) return a.round < b.round ? -1 : 1
  if (a.step !== b.step) return a.step < b.step ? -1 : 1
  return 0
}

function describe (st: SignerState): string {
  return `height ${st.height} round ${st.round} step ${st.step}`
}

async function fsyncPath (path: string): Promise<void> {
  const h = await open(path, 'r')
  try { await h.sync() } finally { await h.close() }
}

export class SignerStateStore {
  private last: SignerState | null | undefined // undefined: not read yet
  private queue: Promise<unknown> = Promise.resolve()

  /** `headHeight` reports the chain head (0 when there is none) for the fail-closed rule. */
  constructor (readonly path: string, private readonly headHeight: () => number, private readonly metrics?: StorageMetrics) {}

  /**
   * The last saved state; null for a home without blocks that never signed (and then the fresh
   * height-0 state is written, so the file exists from the first start on).
   * Throws SIGNER_STATE_MISSING (chain has blocks, no state) or SIGNER_STATE_CORRUPT.
   */
  async load (): Promise<SignerState | null> {
    return await this.serial(async () => await this.read())
  }

  private async read (): Promise<SignerState | null> {
    this.last = undefined // a failed load leaves nothing cached: the next save re-reads and fails too
    let file: Uint8Array
    try {
      file = new Uint8Array(await readFile(this.path))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      const head = this.headHeight()
      if (head > 0) {
        throw new StorageError('SIGNER_STATE_MISSING', `signer state ${this.path} is missing but the chain is at height ${head}: refusing to sign (restore the file from backup, or after making sure this key signed nothing at or above the head, run an explicit signer-state reset)`, { path: this.path, head })
      }
      // Claim the file on a fresh home: a node that then syncs blocks without signing and restarts
      // finds height 0 (truthful) instead of tripping the missing-state rule above.
      await this.write(encodeRecord(signerStateSchema, FRESH_SIGNER_STATE, 'signer state'))
      this.last = FRESH_SIGNER_STATE
      return null
    }
    const state = this.parse(file)
    this.last = state
    return state
  }

  /**
   * Durably records what is about to be signed; the signature may leave only after this resolves.
   * Refuses a height/round/step below the last saved one (SIGNER_REGRESSION), and the same
   * height/round/step with other sign bytes (SIGNER_CONFLICT).
   */
  async save (state: SignerState): Promise<void> {
    const payload = encodeRecord(signerStateSchema, state, 'signer state')
    return await this.serial(async () => {
      if (this.last === undefined) await this.read()
      const last = this.last
      if (last !== null && last !== undefined) {
        const c = compareHrs(state, last)
        if (c < 0) throw new StorageError('SIGNER_REGRESSION', `refusing to sign ${describe(state)}: already signed ${describe(last)}`, { state, last })
        if (c === 0 && !bytesEqual(state.signBytesHash, last.signBytesHash)) {
          throw new StorageError('SIGNER_CONFLICT', `refusing to sign other bytes at ${describe(state)}: that would be a double sign`, { state, last })
        }
      }
      await this.write(payload)
      this.last = { ...state, signBytesHash: state.signBytesHash.slice() }
    })
  }

  /**
   * Writes the fresh state (height 0). Refused when the chain already has blocks unless `force`:
   * forcing is the operator's explicit statement that this key signed nothing that could conflict.
   */
  async reset (options: { force?: boolean } = {}): Promise<void> {
    const head = this.headHeight()
    if (head > 0 && options.force !== true) {
      throw new StorageError('SIGNER_RESET_REFUSED', `refusing to reset the signer state of a home whose chain is at height ${head}; pass force only if this key never signed at these heights`, { path: this.path, head })
    }
    await this.serial(async () => {
      await this.write(encodeRecord(signerStateSchema, FRESH_SIGNER_STATE, 'signer state'))
      this.last = FRESH_SIGNER_STATE
    })
  }

  private parse (file: Uint8Array): SignerState {
    const corrupt = (why: string): never => {
      throw new StorageError('SIGNER_STATE_CORRUPT', `signer state ${this.path} is damaged (${why}): refusing to sign; restore it from backup`, { path: this.path, bytes: file.length })
    }
    if (file.length < 8 || file.length > MAX_FILE_BYTES) corrupt(`${file.length} bytes`)
    if (!bytesEqual(file.subarray(0, 4), MAGIC)) corrupt('bad magic')
    const crc = new DataView(file.buffer, file.byteOffset + 4, 4).getUint32(0)
    const body = file.subarray(8)
    if (crc32(body) !== crc) corrupt('checksum mismatch')
    return decodeRecord(signerStateSchema, body, 'signer state', 'SIGNER_STATE_CORRUPT')
  }

  private async write (payload: Uint8Array): Promise<void> {
    const start = process.hrtime.bigint()
    const header = new Uint8Array(8)
    header.set(MAGIC)
    new DataView(header.buffer).setUint32(4, crc32(payload))
    const file = concatBytes(header, payload)
    const tmp = `${this.path}.tmp`
    const h = await open(tmp, 'w', 0o600)
    try {
      await h.write(file)
      await h.datasync()
    } finally {
      await h.close()
    }
    await rename(tmp, this.path)
    await fsyncPath(dirname(this.path))
    this.metrics?.observeWrite('signerState', elapsedSeconds(start), file.length)
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return await run
  }
}
