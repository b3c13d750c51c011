// Test harness: a real genesis + executeBlock + apply loop, with the append log kept in
// a sorted array read through the same PrefixReader interface storage provides.
import { encodeSmtNode, sha256, type SmtNodeWrite } from '../../crypto/index.js'
import { toHex, utf8 } from '../../codec/index.js'
import {
  buildTx, decodeTx, executeBlock, expectedNonce, fastSigner, initGenesis, LedgerState,
  type BlockExecution, type DecodedTx, type PrefixReader, type TxBody, type TxKind, type TxResult, type TxSigner
} from '../../ledger/index.js'

export const CHAIN = 'medchain-test'
export const T0 = 1_700_000_000_000
export const DAY = 24 * 60 * 60 * 1000

export function seedOf (name: string): Uint8Array { return sha256(utf8('seed:' + name)) }

export class Chain {
  state: LedgerState
  /** Verify signatures when decoding (off only where execution alone is measured). */
  verifySignatures = true
  height = 0
  time = T0
  readonly appends: Array<[string, Uint8Array]> = []
  readonly executions: BlockExecution[] = []
  private readonly signers = new Map<string, TxSigner>()
  private readonly nonces = new Map<string, number>()

  constructor (members: string[] = ['alpha', 'beta']) {
    this.state = initGenesis({ chainId: CHAIN, members: members.map(name => ({ name, publicKey: this.key(name) })) }).state
  }

  signer (name: string): TxSigner {
    let s = this.signers.get(name)
    if (s === undefined) { s = fastSigner(seedOf(name)); this.signers.set(name, s) }
    return s
  }

  key (name: string): Uint8Array { return this.signer(name).publicKey }

  /** Builds and decodes (with signature check) a tx; nonce defaults to the sender's next one. */
  tx<K extends TxKind> (name: string, kind: K, body: TxBody<K>, nonce?: number): DecodedTx {
    const hex = toHex(this.key(name))
    const n = nonce ?? this.nonces.get(hex) ?? expectedNonce(this.state, this.key(name))
    if (nonce === undefined) this.nonces.set(hex, n + 1)
    return decodeTx(buildTx(kind, body, { chainId: CHAIN, signer: this.signer(name), nonce: n }).bytes, CHAIN, { skipSignature: !this.verifySignatures })
  }

  /** Forget the client-side nonce counter (after a tx that did not consume its nonce). */
  resync (name: string): void { this.nonces.delete(toHex(this.key(name))) }

  /** The committed store when the state is backed by one (backWith), as the node backs it by LevelDB. */
  store: Map<string, Uint8Array> | null = null

  /** From now on the state reads committed values from `store` through a `decodedCache`-entry cache. */
  backWith (store: Map<string, Uint8Array>, decodedCache: number): void {
    for (const [k, v] of this.state.sortedEntries()) store.set(k, v)
    this.persistNodes(this.state.unpersistedNodes())
    this.store = store
    this.state = LedgerState.fromSource({ read: k => store.get(k), readNode: p => this.nodes.get(toHex(p)) }, store.keys(), this.state.stateRoot, this.state.height, { decodedCache })
  }

  /** State-tree nodes by position (hex) when backed, as storage keeps them. */
  readonly nodes = new Map<string, Uint8Array>()
  private persistNodes (nodes: SmtNodeWrite[]): void {
    for (const [p, n] of nodes) { if (n === null) this.nodes.delete(toHex(p)); else this.nodes.set(toHex(p), encodeSmtNode(n)) }
  }

  block (txs: DecodedTx[], advanceMs = 1000): BlockExecution {
    this.height++
    this.time += advanceMs
    const exec = executeBlock(this.state, { height: this.height, time: this.time, proposer: this.key('alpha') }, txs)
    if (this.store !== null) {
      // As the node does: the writes are durable first, then the state moves.
      for (const [k, v] of exec.writes) { if (v === null) this.store.delete(k); else this.store.set(k, v) }
      this.persistNodes(exec.tree.nodes)
      this.state.apply(exec, { persisted: true })
    } else {
      this.state.apply(exec)
    }
    for (const a of exec.appends) this.appends.push(a)
    this.appends.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
    this.executions.push(exec)
    return exec
  }

  /** One tx in its own block; returns its result. */
  run<K extends TxKind> (name: string, kind: K, body: TxBody<K>, advanceMs = 1000): TxResult {
    const r = this.block([this.tx(name, kind, body)], advanceMs).results[0]
    if (r.code === 'BAD_NONCE') this.resync(name)
    return r
  }

  reader: PrefixReader = (prefix: string) => {
    const rows = this.appends.filter(([k]) => k.startsWith(prefix))
    return (async function * () { yield * rows })()
  }
}

/** A chain with members alpha/beta, providers, and patient `pat` (with guardians g1,g2,g3 threshold 2). */
export function world (): Chain {
  const c = new Chain()
  const ok = (r: TxResult): void => { if (r.code !== 'OK') throw new Error(`setup failed: ${r.code} ${r.log ?? ''}`) }
  c.block([
    c.tx('alpha', 'provider.register', { key: c.key('drA'), role: 'physician', name: 'Dr A' }),
    c.tx('alpha', 'provider.register', { key: c.key('er'), role: 'emergency_physician', name: 'ER doc' }),
    c.tx('beta', 'provider.register', { key: c.key('nurseB'), role: 'nurse', name: 'Nurse B' }),
    c.tx('beta', 'provider.register', { key: c.key('res'), role: 'researcher', name: 'Researcher' }),
    c.tx('beta', 'provider.register', { key: c.key('drB'), role: 'physician', name: 'Dr B' }),
    c.tx('pat', 'patient.register', { guardians: [c.key('g1'), c.key('g2'), c.key('g3')].sort((a, b) => Buffer.compare(a, b)), threshold: 2 }),
    c.tx('pat2', 'patient.register', {})
  ]).results.forEach(ok)
  return c
}
