import { mkdir, open, readdir, readFile, rm, stat, truncate, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from './crc32.js'
import { StorageError } from './errors.js'
import { elapsedSeconds, type StorageMetrics } from './metrics.js'

/**
 * Consensus write-ahead log: one append-only file per height, each record
 * `u32be length | u32be crc32(length bytes ‖ payload) | payload`. append() returns after fdatasync.
 * Reading back: a record cut short by the end of the file (a crash mid-append, never acknowledged)
 * is a torn tail and is truncated away, as is a zero-filled tail; a complete record whose CRC fails
 * is corruption (WAL_CORRUPT), wherever it sits.
 *
 * Tagged records (appendTagged / taggedRecords): the payload's first byte is the caller's tag
 * (1..255) saying what the rest is, so a reader never guesses by trying decoders. Logs written
 * before tags (CBOR maps, first byte 0xa0..0xbf) read back with that byte as an unknown tag:
 * the WAL only holds the height in progress, so an upgrade loses at most that height's replay.
 */

export const WAL_HEADER_BYTES = 8
export const DEFAULT_MAX_WAL_RECORD_BYTES = 16 * 1024 * 1024
/** One height's file larger than this is refused rather than read into memory. */
export const MAX_WAL_FILE_BYTES = 512 * 1024 * 1024

const FILE_RE = /^(\d{16})\.wal$/

export interface TaggedRecord { tag: number, payload: Uint8Array }

export function encodeTagged (tag: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 1 || tag > 255) throw new StorageError('STORE_BAD_INPUT', 'WAL record tag must be an integer in 1..255', tag)
  const out = new Uint8Array(1 + payload.length)
  out[0] = tag
  out.set(payload, 1)
  return out
}

export function decodeTagged (record: Uint8Array, where: string): TaggedRecord {
  if (record.length === 0 || record[0] === 0) throw new StorageError('WAL_CORRUPT', `${where}: record without a tag`, record.length === 0 ? null : 0)
  return { tag: record[0], payload: record.subarray(1) }
}

export interface WalReadResult {
  records: Uint8Array[]
  /** Bytes of torn tail removed from the file (0 when the file was clean). */
  truncatedBytes: number
}

export interface WalOptions {
  maxRecordBytes?: number
  metrics?: StorageMetrics
}

function fileName (height: number): string {
  return `${String(height).padStart(16, '0')}.wal`
}

function checkHeight (height: number): void {
  if (!Number.isSafeInteger(height) || height < 0) throw new StorageError('STORE_BAD_INPUT', 'WAL height must be a non-negative safe integer', height)
}

export function encodeWalRecord (payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(WAL_HEADER_BYTES + payload.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, payload.length)
  out.set(payload, WAL_HEADER_BYTES)
  view.setUint32(4, crc32(payload, crc32(out.subarray(0, 4))))
  return out
}

function allZero (bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false
  return true
}

/** Parses a whole WAL file; `validBytes` is where the torn tail (if any) starts. */
export function parseWal (file: Uint8Array, maxRecordBytes: number, where: string): { records: Uint8Array[], validBytes: number } {
  const records: Uint8Array[] = []
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
  let off = 0
  while (off < file.length) {
    const rest = file.length - off
    if (rest < WAL_HEADER_BYTES) break // torn header
    const length = view.getUint32(off)
    const crc = view.getUint32(off + 4)
    if (length > maxRecordBytes) {
      if (allZero(file.subarray(off))) break
      throw new StorageError('WAL_CORRUPT', `${where}: record at offset ${off} claims ${length} bytes (max ${maxRecordBytes})`, { offset: off, length })
    }
    if (rest < WAL_HEADER_BYTES + length) break // torn payload
    const payload = file.subarray(off + WAL_HEADER_BYTES, off + WAL_HEADER_BYTES + length)
    if (crc32(payload, crc32(file.subarray(off, off + 4))) !== crc) {
      if (allZero(file.subarray(off))) break // zero-filled tail of an unacknowledged append
      throw new StorageError('WAL_CORRUPT', `${where}: CRC mismatch in record ${records.length} at offset ${off}`, { offset: off, record: records.length })
    }
    records.push(payload.slice())
    off += WAL_HEADER_BYTES + length
  }
  return { records, validBytes: off }
}

async function fsyncDir (dir: string): Promise<void> {
  const h = await open(dir, 'r')
  try { await h.sync() } finally { await h.close() }
}

export class ConsensusWal {
  private handle: FileHandle | undefined
  private handleHeight = -1
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false
  readonly maxRecordBytes: number

  private constructor (readonly dir: string, private readonly metrics: StorageMetrics | undefined, maxRecordBytes: number) {
    this.maxRecordBytes = maxRecordBytes
  }

  static async open (dir: string, options: WalOptions = {}): Promise<ConsensusWal> {
    await mkdir(dir, { recursive: true })
    return new ConsensusWal(dir, options.metrics, options.maxRecordBytes ?? DEFAULT_MAX_WAL_RECORD_BYTES)
  }

  /**
   * Appends one record to the height's file. With `sync` (the default) it returns once the
   * record is on disk; without, once it is in the OS (for records a peer can send again).
   */
  async append (height: number, payload: Uint8Array, options: { sync?: boolean } = {}): Promise<void> {
    checkHeight(height)
    if (!(payload instanceof Uint8Array)) throw new StorageError('STORE_BAD_INPUT', 'WAL payload must be bytes', payload)
    if (payload.length > this.maxRecordBytes) throw new StorageError('WAL_RECORD_TOO_LARGE', `WAL record of ${payload.length} bytes exceeds ${this.maxRecordBytes}`, payload.length)
    return await this.serial(async () => {
      const start = process.hrtime.bigint()
      const handle = await this.handleFor(height)
      const record = encodeWalRecord(payload)
      await handle.write(record)
      if (options.sync !== false) await handle.datasync()
      this.metrics?.observeWrite('wal', elapsedSeconds(start), record.length)
    })
  }

  /** Appends `tag | payload` (see TaggedRecord); same durability options as append. */
  async appendTagged (height: number, tag: number, payload: Uint8Array, options: { sync?: boolean } = {}): Promise<void> {
    return await this.append(height, encodeTagged(tag, payload), options)
  }

  /** The height's tagged records in append order; an empty record or tag 0 is WAL_CORRUPT. */
  async taggedRecords (height: number): Promise<TaggedRecord[]> {
    return (await this.records(height)).map((r, i) => decodeTagged(r, `WAL height ${height} record ${i}`))
  }

  /** Payloads of the height's records in append order ([] if none); truncates a torn tail. */
  async records (height: number): Promise<Uint8Array[]> {
    return (await this.read(height)).records
  }

  async read (height: number): Promise<WalReadResult> {
    checkHeight(height)
    return await this.serial(async () => await this.recover(height))
  }

  /** Heights that have a WAL file, ascending. */
  async heights (): Promise<number[]> {
    this.assertOpen()
    const out: number[] = []
    for (const name of await readdir(this.dir)) {
      const m = FILE_RE.exec(name)
      if (m !== null) out.push(Number(m[1]))
    }
    return out.sort((a, b) => a - b)
  }

  /** Deletes the files of every height below `belowHeight`. */
  async prune (belowHeight: number): Promise<number> {
    checkHeight(belowHeight)
    return await this.serial(async () => {
      let removed = 0
      for (const h of await this.heights()) {
        if (h >= belowHeight) continue
        if (h === this.handleHeight) await this.closeHandle()
        await rm(join(this.dir, fileName(h)), { force: true })
        removed++
      }
      if (removed > 0) await fsyncDir(this.dir)
      return removed
    })
  }

  async close (): Promise<void> {
    await this.serial(async () => { await this.closeHandle() })
    this.closed = true
  }

  private assertOpen (): void {
    if (this.closed) throw new StorageError('STORE_CLOSED', `WAL at ${this.dir} is closed`, this.dir)
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    this.assertOpen()
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return await run
  }

  private async closeHandle (): Promise<void> {
    const h = this.handle
    this.handle = undefined
    this.handleHeight = -1
    if (h !== undefined) await h.close()
  }

  private async recover (height: number): Promise<WalReadResult> {
    const path = join(this.dir, fileName(height))
    let size: number
    try {
      size = (await stat(path)).size
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], truncatedBytes: 0 }
      throw err
    }
    if (size > MAX_WAL_FILE_BYTES) throw new StorageError('WAL_CORRUPT', `${path} is ${size} bytes, more than ${MAX_WAL_FILE_BYTES}`, size)
    const file = new Uint8Array(await readFile(path))
    const { records, validBytes } = parseWal(file, this.maxRecordBytes, path)
    const truncatedBytes = file.length - validBytes
    if (truncatedBytes > 0) {
      if (height === this.handleHeight) await this.closeHandle()
      await truncate(path, validBytes)
      const h = await open(path, 'r+')
      try { await h.sync() } finally { await h.close() }
    }
    return { records, truncatedBytes }
  }

  private async handleFor (height: number): Promise<FileHandle> {
    if (this.handle !== undefined && this.handleHeight === height) return this.handle
    await this.closeHandle()
    // A file left by a crash may end in a torn record: cut it before appending after it.
    await this.recover(height)
    const path = join(this.dir, fileName(height))
    let existed = true
    try { await stat(path) } catch { existed = false }
    this.handle = await open(path, 'a')
    this.handleHeight = height
    if (!existed) await fsyncDir(this.dir)
    return this.handle
  }
}
