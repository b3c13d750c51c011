import { bytesEqual, toHex } from '../codec/index.js'
import { merkleRoot, verify as ed25519Verify, SparseMerkleTree } from '../crypto/index.js'
import { blockHash, decodeBlock, decodeCommit, verifyCommit, ZERO_HASH, type Block, type Validator } from '../consensus/index.js'
import { decodeTx, executeBlock, initGenesis, LedgerState, type DecodedTx } from '../ledger/index.js'
import type { ChainStore } from '../storage/index.js'

/**
 * Offline check of a whole data directory (Fabric's `ledgerutil verify`): replays every
 * block from genesis and checks, per height, the hash link, the commit certificate
 * against the validator set, the tx root, the re-executed state and results roots, the
 * stored results and tx index; then the stored state values and tree nodes against
 * the final root. Stops at the first divergence and names its height and key.
 */

export interface ChainCheckInput {
  chainId: string
  members: Array<{ name: string, publicKey: Uint8Array }>
  validators: readonly Validator[]
  /** Check every transaction's signature again (default true). */
  signatures?: boolean
  /** Called every `progressEvery` heights and at the end. */
  progress?: (p: { height: number, head: number, txs: number }) => void
  progressEvery?: number
}

export interface Divergence {
  height: number
  /** What diverged: a state key, a tx id, or a block field. */
  key: string
  code: string
  message: string
}

export interface ChainCheckReport {
  ok: boolean
  head: number
  heightsChecked: number
  txs: number
  stateKeys: number
  treeNodes: number
  divergence: Divergence | null
}

class Diverged extends Error {
  constructor (readonly d: Divergence) { super(d.message) }
}

function diverge (height: number, key: string, code: string, message: string): never {
  throw new Diverged({ height, key, code, message })
}

export async function checkChain (store: ChainStore, input: ChainCheckInput): Promise<ChainCheckReport> {
  const headRecord = store.head()
  const head = headRecord?.height ?? 0
  const report: ChainCheckReport = { ok: true, head, heightsChecked: 0, txs: 0, stateKeys: 0, treeNodes: 0, divergence: null }
  const every = input.progressEvery ?? 1000
  let state: LedgerState = initGenesis({ chainId: input.chainId, members: input.members }).state
  try {
    let prevHash: Uint8Array = ZERO_HASH
    let prevTime = 0
    for (let h = 1; h <= head; h++) {
      const bytes = await store.blocks.get(h)
      if (bytes === undefined) diverge(h, 'block', 'BLOCK_MISSING', `block ${h} is missing`)
      let block: Block
      try { block = decodeBlock(bytes) } catch (err) { diverge(h, 'block', 'BLOCK_UNDECODABLE', `block ${h} does not decode: ${(err as Error).message}`) }
      const header = block.header
      const hash = blockHash(header)
      const summary = await store.blocks.getSummary(h)
      if (summary === undefined) diverge(h, 'summary', 'SUMMARY_MISSING', `header summary of ${h} is missing`)
      if (!bytesEqual(summary.hash, hash)) diverge(h, 'block', 'BLOCK_HASH_MISMATCH', `block ${h} hashes to ${toHex(hash)}, its stored header summary says ${toHex(summary.hash)}: the block bytes were changed`)
      if (header.height !== h || header.chainId !== input.chainId) diverge(h, 'header.height', 'HEADER_MISMATCH', `block at height ${h} says height ${header.height}, chain ${header.chainId}`)
      if (!bytesEqual(header.prevHash, prevHash)) diverge(h, 'header.prevHash', 'HASH_LINK_BROKEN', `block ${h} does not link to block ${h - 1}`)
      if (header.time <= prevTime) diverge(h, 'header.time', 'TIME_NOT_INCREASING', `block ${h} time ${header.time} is not after ${prevTime}`)
      if (header.txCount !== block.txs.length || !bytesEqual(header.txRoot, merkleRoot(block.txs))) diverge(h, 'header.txRoot', 'TX_ROOT_MISMATCH', `block ${h} transactions do not match its tx root`)
      if (h > 1) {
        if (block.lastCommit === null) diverge(h, 'lastCommit', 'LAST_COMMIT_MISSING', `block ${h} carries no certificate of ${h - 1}`)
        try { verifyCommit(block.lastCommit, input.validators, input.chainId, ed25519Verify, { height: h - 1, blockHash: prevHash }) } catch (err) {
          diverge(h, 'lastCommit', 'LAST_COMMIT_INVALID', `certificate of ${h - 1} carried by block ${h}: ${(err as Error).message}`)
        }
      }
      const certBytes = await store.blocks.getCommit(h)
      if (certBytes === undefined) diverge(h, 'commit', 'COMMIT_MISSING', `the commit certificate of height ${h} is missing`)
      try { verifyCommit(decodeCommit(certBytes), input.validators, input.chainId, ed25519Verify, { height: h, blockHash: hash }) } catch (err) {
        diverge(h, 'commit', 'COMMIT_INVALID', `commit certificate of height ${h}: ${(err as Error).message}`)
      }

      const txs: DecodedTx[] = []
      for (let i = 0; i < block.txs.length; i++) {
        try { txs.push(decodeTx(block.txs[i], input.chainId, { skipSignature: input.signatures === false })) } catch (err) {
          diverge(h, `tx ${i}`, 'TX_INVALID', `transaction ${i} of block ${h}: ${(err as Error).message}`)
        }
      }
      const exec = executeBlock(state, { height: h, time: header.time, proposer: header.proposer }, txs)
      if (!bytesEqual(exec.stateRoot, header.stateRoot)) diverge(h, 'header.stateRoot', 'STATE_ROOT_MISMATCH', `re-executing block ${h} gives state root ${toHex(exec.stateRoot)}, the header says ${toHex(header.stateRoot)}`)
      if (!bytesEqual(exec.resultsRoot, header.resultsRoot)) diverge(h, 'header.resultsRoot', 'RESULTS_ROOT_MISMATCH', `re-executing block ${h} gives results root ${toHex(exec.resultsRoot)}, the header says ${toHex(header.resultsRoot)}`)
      const stored = await store.blocks.getResults(h)
      if (stored === undefined || stored.length !== exec.resultLeaves.length) diverge(h, 'results', 'RESULTS_MISSING', `stored results of height ${h} are missing or incomplete`)
      for (let i = 0; i < txs.length; i++) {
        if (!bytesEqual(stored[i], exec.resultLeaves[i])) diverge(h, `result ${txs[i].idHex}`, 'RESULT_MISMATCH', `stored result of tx ${i} at height ${h} differs from re-execution`)
        const loc = await store.txIndex.get(txs[i].idHex)
        if (loc === undefined) diverge(h, `txindex ${txs[i].idHex}`, 'TX_INDEX_MISSING', `tx index entry of ${txs[i].idHex} (height ${h}, tx ${i}) is missing`)
        if (loc.height !== h || loc.index !== i || loc.code !== exec.results[i].code) {
          diverge(h, `txindex ${txs[i].idHex}`, 'TX_INDEX_MISMATCH', `tx index says height ${loc.height} tx ${loc.index} ${loc.code}; the chain says height ${h} tx ${i} ${exec.results[i].code}`)
        }
      }
      for (const [key, value] of exec.appends) {
        const got = await store.state.get(key)
        if (got === undefined || !bytesEqual(got, value)) diverge(h, key, got === undefined ? 'APPEND_MISSING' : 'APPEND_MISMATCH', `audit record ${key} of height ${h} is ${got === undefined ? 'missing' : 'not what the block appended'}`)
      }
      state.apply(exec)
      report.heightsChecked = h
      report.txs += txs.length
      prevHash = hash
      prevTime = header.time
      if (h % every === 0) input.progress?.({ height: h, head, txs: report.txs })
    }
    if (headRecord !== null && !bytesEqual(headRecord.stateRoot, state.stateRoot)) diverge(head, 'head', 'HEAD_ROOT_MISMATCH', 'the head record\'s state root is not the replayed one')

    // Stored state against the replayed state, key by key (both in key byte order).
    const replayed = state.sortedEntries()
    let next = replayed.next()
    for await (const [key, value] of store.state.entries()) {
      report.stateKeys++
      while (next.done !== true && next.value[0] < key) diverge(head, next.value[0], 'STATE_KEY_MISSING', `state key ${next.value[0]} is missing from the store`)
      if (next.done === true || next.value[0] !== key) diverge(head, key, 'STATE_KEY_EXTRA', `state key ${key} is stored but not in the replayed state`)
      if (!bytesEqual(next.value[1], value)) diverge(head, key, 'STATE_VALUE_MISMATCH', `stored value of ${key} differs from the replayed one (the final state root does not commit to it)`)
      next = replayed.next()
    }
    if (next.done !== true) diverge(head, next.value[0], 'STATE_KEY_MISSING', `state key ${next.value[0]} is missing from the store`)

    // The stored tree: every node hashes its children, up to the head's root.
    if (head > 0) {
      const tree = new SparseMerkleTree(state.stateRoot, { reader: pos => store.state.readNodeSync(pos) })
      let root: Uint8Array<ArrayBufferLike>
      try { root = tree.recomputeRoot() } catch (err) {
        diverge(head, `tree ${String((err as { value?: unknown }).value)}`, 'TREE_NODE_CORRUPT', (err as Error).message)
      }
      if (!bytesEqual(root, state.stateRoot)) diverge(head, 'tree root', 'TREE_ROOT_MISMATCH', `stored tree nodes give root ${toHex(root)}, the chain says ${toHex(state.stateRoot)}`)
      for await (const _ of store.state.nodes()) report.treeNodes++
    }
    input.progress?.({ height: report.heightsChecked, head, txs: report.txs })
  } catch (err) {
    if (!(err instanceof Diverged)) throw err
    report.ok = false
    report.divergence = err.d
  }
  return report
}
