import { encode, toHex, utf8 } from '../../codec/index.js'
import { sha256 } from '../../crypto/index.js'
import type { CommitBlockInput } from '../../storage/index.js'

export const CHAIN_ID = 'medchain-test'
export const GENESIS_HASH = sha256(utf8('genesis of medchain-test'))
export const ZERO_HASH = new Uint8Array(32)

/** Block hash as the tests' stand-in for consensus: sha256 of the encoded block bytes. */
export function hashBlock (blockBytes: Uint8Array): Uint8Array {
  return sha256(blockBytes)
}

export function txId (height: number, index: number): Uint8Array {
  return sha256(utf8(`tx ${height}/${index}`))
}

/**
 * A block at `height` on top of `prevHash`: `txCount` txs, state writes `k/<i>` = height for
 * i < writeCount, `counter` = height, and one audit append per tx.
 */
export function makeBlock (height: number, prevHash: Uint8Array, opts: { txCount?: number, writeCount?: number, deletes?: string[], withCommit?: boolean } = {}): CommitBlockInput {
  const txCount = opts.txCount ?? 3
  const writeCount = opts.writeCount ?? 5
  const blockBytes = encode({ height, prevHash, body: `block ${height}` })
  const hash = hashBlock(blockBytes)
  const value = encode(height)
  const writes: Array<[string, Uint8Array | null]> = [['counter', value]]
  for (let i = 0; i < writeCount; i++) writes.push([`k/${String(i).padStart(6, '0')}`, value])
  for (const d of opts.deletes ?? []) writes.push([d, null])
  const txs = Array.from({ length: txCount }, (_, index) => ({ id: txId(height, index), index, code: index % 2 === 0 ? 'OK' : 'DENIED' }))
  const appends: Array<[string, Uint8Array]> = txs.map(tx => [`audit/p1/${String(height).padStart(12, '0')}/${String(tx.index).padStart(6, '0')}`, encode({ tx: toHex(tx.id as Uint8Array) })])
  const input: CommitBlockInput = {
    height,
    hash,
    prevHash,
    stateRoot: sha256(utf8(`state root ${height}`)),
    time: 1_700_000_000_000 + height * 1000,
    blockBytes,
    txs,
    writes,
    appends
  }
  if (opts.withCommit !== false) input.commitBytes = encode({ commitFor: height })
  return input
}

/** Commits blocks 1..count (or from the head) and returns the last block's input. */
export async function commitChain (store: { commitBlock: (b: CommitBlockInput) => Promise<unknown>, head: () => { height: number, hash: Uint8Array } | null }, count: number, opts: Parameters<typeof makeBlock>[2] = {}): Promise<CommitBlockInput> {
  let last: CommitBlockInput | undefined
  for (let i = 0; i < count; i++) {
    const head = store.head()
    last = makeBlock((head?.height ?? 0) + 1, head?.hash ?? ZERO_HASH, opts)
    await store.commitBlock(last)
  }
  if (last === undefined) throw new Error('count must be > 0')
  return last
}

export async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}
