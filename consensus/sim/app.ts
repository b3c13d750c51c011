import { utf8, bytesEqual } from '../../codec/index.js'
import { sha256, merkleRoot } from '../../crypto/index.js'
import { ZERO_HASH, type Block, type BlockHeader, type Commit } from '../types.js'

/** The simulated application: state root = sha256(previous root || tx root); deterministic. */
export function nextStateRoot (prevStateRoot: Uint8Array, txRoot: Uint8Array): Uint8Array {
  return sha256(prevStateRoot, txRoot)
}

export const GENESIS_STATE_ROOT = ZERO_HASH

export function buildSimBlock (args: {
  chainId: string, height: number, time: number, proposer: Uint8Array, prevHash: Uint8Array,
  lastCommit: Commit | null, lastCommitHash: Uint8Array, prevStateRoot: Uint8Array, txs: Uint8Array[]
}): Block {
  const txRoot = merkleRoot(args.txs)
  const header: BlockHeader = {
    chainId: args.chainId, height: args.height, time: args.time, proposer: args.proposer, prevHash: args.prevHash,
    lastCommitHash: args.lastCommitHash, txRoot, txCount: args.txs.length, stateRoot: nextStateRoot(args.prevStateRoot, txRoot), resultsRoot: txRoot
  }
  return { header, txs: args.txs, lastCommit: args.lastCommit }
}

/** What the application checks on top of the core's structural checks: the state root it would compute. */
export function simBlockValid (block: Block, prevStateRoot: Uint8Array): boolean {
  return bytesEqual(block.header.stateRoot, nextStateRoot(prevStateRoot, block.header.txRoot))
}

export function simTx (proposer: number, height: number, round: number, i: number, salt: number): Uint8Array {
  return utf8(`tx/${proposer}/${height}/${round}/${i}/${salt}`)
}
