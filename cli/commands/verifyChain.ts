import { Command } from 'commander'
import { fromHex } from '../../codec/index.js'
import { checkChain, type ChainCheckReport } from '../../proofs/index.js'
import { openChainStore } from '../../storage/index.js'
import { genesisHash, readGenesis } from '../../node/genesis.js'
import { homePaths } from '../home.js'

/** Replays and checks a stopped node's data directory; the report, and whether it is sound. */
export async function verifyChain (home: string, opts: { signatures?: boolean, progress?: (line: string) => void } = {}): Promise<ChainCheckReport & { seconds: number, blocksPerSecond: number, txsPerSecond: number }> {
  const p = homePaths(home)
  const genesis = readGenesis(p.genesis)
  const started = process.hrtime.bigint()
  // No re-hash at open: this command checks everything itself and must report, not refuse.
  const store = await openChainStore(p.data, { chainId: genesis.chainId, genesisHash: genesisHash(genesis), integrityDepth: 1, blockScanDepth: 1 })
  try {
    let lastAt = started
    let lastTxs = 0
    const report = await checkChain(store, {
      chainId: genesis.chainId,
      members: genesis.validators.map(v => ({ name: v.name.toLowerCase(), publicKey: fromHex(v.publicKey, 32) })),
      validators: genesis.validators.map(v => ({ publicKey: fromHex(v.publicKey, 32), power: v.power })),
      signatures: opts.signatures,
      progressEvery: 500,
      progress: ({ height, head, txs }) => {
        const now = process.hrtime.bigint()
        const rate = Math.round((txs - lastTxs) / Math.max(1e-9, Number(now - lastAt) / 1e9))
        lastAt = now; lastTxs = txs
        opts.progress?.(`verify-chain: height ${height}/${head} (${head === 0 ? 100 : Math.floor(100 * height / head)}%), ${txs} txs, ${rate} tx/s`)
      }
    })
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    return { ...report, seconds, blocksPerSecond: report.heightsChecked / seconds, txsPerSecond: report.txs / seconds }
  } finally {
    await store.close()
  }
}

export function verifyChainCommand (): Command {
  return new Command('verify-chain')
    .description('offline, with the node stopped: replay every block from genesis and check hash links, commit certificates, state and results roots, stored state and indexes; exits 1 naming the first damaged height and key')
    .requiredOption('--home <dir>', 'node home folder (genesis.json, data/)')
    .option('--skip-signatures', 'do not re-verify transaction signatures (faster; certificates are always checked)')
    .action(async (o: { home: string, skipSignatures?: boolean }) => {
      const r = await verifyChain(o.home, { signatures: o.skipSignatures !== true, progress: line => process.stderr.write(line + '\n') })
      console.log(JSON.stringify(r))
      if (!r.ok) {
        const d = r.divergence!
        process.stderr.write(`verify-chain: DAMAGE at height ${d.height}, key ${d.key}: ${d.code}: ${d.message}\n`)
        process.exitCode = 1
      } else {
        process.stderr.write(`verify-chain: OK: ${r.heightsChecked} blocks, ${r.txs} txs, ${r.stateKeys} state keys, ${r.treeNodes} tree nodes in ${r.seconds.toFixed(1)} s (${Math.round(r.blocksPerSecond)} blocks/s, ${Math.round(r.txsPerSecond)} tx/s)\n`)
      }
    })
}
