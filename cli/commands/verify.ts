import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { bytesEqual, fromHex, toHex } from '../../codec/index.js'
import { sha256, verifyMerkleProof } from '../../crypto/index.js'
import { blockHash, verifyCommit, type BlockHeader, type Commit } from '../../consensus/index.js'
import { readGenesis } from '../../node/genesis.js'

interface ReceiptJson {
  chainId: string, txId: string, tx: string, result: string, height: number, index: number, blockHash: string, proof: string[]
  header: Record<string, string | number>
  commit: { height: number, round: number, blockHash: string, signatures: Array<{ validatorIndex: number, signature: string }> } | null
}

export class ReceiptError extends Error {
  constructor (readonly code: string, message: string) { super(message); this.name = 'ReceiptError' }
}

/**
 * Checks a receipt offline against the genesis alone: the transaction hashes to its id,
 * it sits at its index under the header's tx root (RFC 6962 proof), the header hashes to
 * the block hash, and +2/3 of the genesis validators signed a precommit for that block.
 */
export function verifyReceipt (receipt: ReceiptJson, genesisPath: string): { txId: string, height: number, result: string } {
  const genesis = readGenesis(genesisPath)
  if (receipt.chainId !== genesis.chainId) throw new ReceiptError('RECEIPT_WRONG_CHAIN', `receipt is for chain ${receipt.chainId}, genesis is ${genesis.chainId}`)
  const tx = fromHex(receipt.tx)
  if (toHex(sha256(tx)) !== receipt.txId) throw new ReceiptError('RECEIPT_TX_MISMATCH', 'transaction bytes do not hash to the tx id')
  const h = receipt.header
  const header: BlockHeader = {
    chainId: String(h.chainId), height: Number(h.height), time: Number(h.time), proposer: fromHex(String(h.proposer), 32),
    prevHash: fromHex(String(h.prevHash), 32), lastCommitHash: fromHex(String(h.lastCommitHash), 32), txRoot: fromHex(String(h.txRoot), 32),
    txCount: Number(h.txCount), stateRoot: fromHex(String(h.stateRoot), 32), resultsRoot: fromHex(String(h.resultsRoot), 32)
  }
  const hash = blockHash(header)
  if (toHex(hash) !== receipt.blockHash || header.height !== receipt.height) throw new ReceiptError('RECEIPT_HEADER_MISMATCH', 'header does not hash to the block hash')
  if (!verifyMerkleProof(tx, receipt.index, header.txCount, receipt.proof.map(p => fromHex(p, 32)), header.txRoot)) {
    throw new ReceiptError('RECEIPT_BAD_PROOF', 'Merkle proof does not lead to the header tx root')
  }
  if (receipt.commit === null) throw new ReceiptError('RECEIPT_NO_COMMIT', 'receipt has no commit certificate yet')
  const commit: Commit = {
    height: receipt.commit.height, round: receipt.commit.round, blockHash: fromHex(receipt.commit.blockHash, 32),
    signatures: receipt.commit.signatures.map(s => ({ validatorIndex: s.validatorIndex, signature: fromHex(s.signature) }))
  }
  if (!bytesEqual(commit.blockHash, hash)) throw new ReceiptError('RECEIPT_COMMIT_MISMATCH', 'commit certificate is for another block')
  const validators = genesis.validators.map(v => ({ publicKey: fromHex(v.publicKey, 32), power: v.power }))
  try { verifyCommit(commit, validators, genesis.chainId, undefined, { height: header.height, blockHash: hash }) } catch (err) {
    throw new ReceiptError('RECEIPT_BAD_COMMIT', (err as Error).message)
  }
  return { txId: receipt.txId, height: header.height, result: receipt.result }
}

export function verifyCommand (): Command {
  return new Command('verify')
    .description('check a transaction receipt offline against genesis.json (proof of inclusion and commit certificate)')
    .argument('<receipt>', 'receipt JSON file (medchain query receipt <id> > r.json)')
    .requiredOption('--genesis <file>', 'the chain\'s genesis.json')
    .action((file: string, o: { genesis: string }) => {
      const r = verifyReceipt(JSON.parse(readFileSync(file, 'utf8')) as ReceiptJson, o.genesis)
      console.log(JSON.stringify({ valid: true, ...r }))
    })
}
