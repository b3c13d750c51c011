// A 4-validator chain written through the node's own Application and ChainStore (real
// LevelDB, certificates signed by 3 of 4 validator keys), then `verify-chain` over it.
// VERIFY_CHAIN_TXS=100000 makes it the measurement of the closing note (blocks/s, tx/s).
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ed25519Signer, generateSeed, readKeyFile } from '../../crypto/index.js'
import { blockHash, commitHash, proposerIndex, voteSignBody, ZERO_HASH, type Commit } from '../../consensus/index.js'
import { buildTx, fastSigner, initGenesis, type TxSigner } from '../../ledger/index.js'
import { openChainStore } from '../../storage/index.js'
import { Application, type PendingTx } from '../../node/app.js'
import { DEFAULT_CONFIG } from '../../node/config.js'
import { genesisHash, readGenesis } from '../../node/genesis.js'
import { Mempool } from '../../node/mempool.js'
import { writeTestnet } from '../../cli/commands/testnet.js'
import { verifyChain } from '../../cli/commands/verifyChain.js'

const TXS = Number(process.env.VERIFY_CHAIN_TXS ?? 2400)
const PER_BLOCK = 1000

t.test(`verify-chain over a 4-validator chain of ${TXS} transactions`, async t => {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-vc-'))
  const { homes } = writeTestnet({ validators: 4, out: dir, chainId: 'medchain-vc', basePort: 40000 })
  const genesis = readGenesis(join(homes[0], 'genesis.json'))
  const validators = homes.map(h => new Ed25519Signer(readKeyFile(join(h, 'node_key.json')).seed))
  const chainId = genesis.chainId
  const store = await openChainStore(join(homes[0], 'data'), { chainId, genesisHash: genesisHash(genesis) })
  const g = initGenesis({ chainId, members: genesis.validators.map((v, i) => ({ name: v.name.toLowerCase(), publicKey: validators[i].publicKey })) })
  g.state.attachSource({ read: k => store.state.readSync(k), readNode: p => store.state.readNodeSync(p) })
  const mempool = new Mempool<PendingTx>({ limits: DEFAULT_CONFIG.mempool, head: 0, clock: Date.now })
  const app = new Application(chainId, g.state, store, { maxBlockTxs: PER_BLOCK, maxBlockBytes: 8 * 1024 * 1024, genesisWrites: g.writes, mempool })

  const member = fastSigner(readKeyFile(join(homes[0], 'node_key.json')).seed)
  const provider = fastSigner(generateSeed())
  const nonces = new Map<TxSigner, number>()
  const submit = (signer: TxSigner, kind: Parameters<typeof buildTx>[0], body: unknown): void => {
    const nonce = nonces.get(signer) ?? 0
    nonces.set(signer, nonce + 1)
    app.checkTx(buildTx(kind, body as never, { chainId, signer, nonce }).bytes, 'api')
  }
  let time = genesis.genesisTime
  let prevHash: Uint8Array = ZERO_HASH
  let lastCommit: Commit | null = null
  let height = 0
  let committed = 0
  const commitNext = async (): Promise<void> => {
    height++
    time += 1000
    const proposer = validators[proposerIndex(genesis.validators.map(v => ({ publicKey: validators[0].publicKey, power: v.power })), height, 0)].publicKey
    const block = app.buildBlock({ height, proposer, prevHash, lastCommit, lastCommitHash: lastCommit === null ? ZERO_HASH : commitHash(lastCommit), time })
    const hash = blockHash(block.header)
    const body = voteSignBody(height, 0, hash)
    const commit: Commit = { height, round: 0, blockHash: hash, signatures: [0, 1, 2].map(i => ({ validatorIndex: i, signature: validators[i].sign('precommit', chainId, body) })) }
    const c = await app.commitBlock(block, commit)
    committed += block.txs.length
    const failed = c.execution.results.filter(r => r.code !== 'OK')
    if (failed.length > 0) t.fail(`block ${height}: ${failed.length} of ${block.txs.length} txs failed`, { results: failed.slice(0, 3) })
    prevHash = hash
    lastCommit = commit
  }
  submit(member, 'provider.register', { key: provider.publicKey, role: 'physician', name: 'Dr Scale' })
  await commitNext()
  const started = process.hrtime.bigint()
  // Per patient: register and grant to the provider; once committed, the provider logs an
  // access (permit for labs, deny for mental health) and every other patient rotates its key.
  let previous: TxSigner[] = []
  while (committed < TXS) {
    const current: TxSigner[] = []
    for (let n = 0; n < PER_BLOCK / 4; n++) {
      const patient = fastSigner(generateSeed())
      current.push(patient)
      submit(patient, 'patient.register', {})
      submit(patient, 'consent.grant', { grantee: { type: 'provider', key: provider.publicKey }, categories: ['labs'], actions: ['read'], purposes: ['TREAT'], validFrom: time, validUntil: time + 86_400_000 * 30 })
    }
    previous.forEach((patient, n) => {
      submit(provider, 'access.log', { patient: patient.publicKey, category: n % 3 === 0 ? 'mental_health' : 'labs', action: 'read', purpose: 'TREAT' })
      if (n % 2 === 0) submit(patient, 'patient.rotate_key', { newKey: fastSigner(generateSeed()).publicKey })
    })
    previous = current
    while (mempool.size > 0) await commitNext()
  }
  const buildS = Number(process.hrtime.bigint() - started) / 1e9
  await store.close()
  t.comment(`built ${height} blocks, ${committed} txs in ${buildS.toFixed(1)} s`)

  const report = await verifyChain(homes[0], { progress: line => t.comment(line) })
  t.match(report, { ok: true, divergence: null, head: height, heightsChecked: height, txs: committed })
  t.comment(`verify-chain (signatures checked): ${report.heightsChecked} blocks, ${report.txs} txs, ${report.stateKeys} state keys, ${report.treeNodes} tree nodes in ${report.seconds.toFixed(1)} s: ${report.blocksPerSecond.toFixed(1)} blocks/s, ${Math.round(report.txsPerSecond)} tx/s`)
})
