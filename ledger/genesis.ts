import { encode, toHex } from '../codec/index.js'
import { publicKeyProblem } from '../crypto/index.js'
import { LedgerError } from './errors.js'
import { keys, type ChainInfo, type Member } from './model.js'
import { LedgerState, decodedWrites, type Write } from './state.js'

export interface GenesisInput {
  chainId: string
  members: Array<{ name: string, publicKey: Uint8Array }>
}

export interface Genesis {
  /** The state at height 0. */
  state: LedgerState
  /** Genesis writes, sorted by key (persist them like any block's writes). */
  writes: Write[]
  stateRoot: Uint8Array
}

const MEMBER_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/
const CHAIN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Genesis state: chain id and members; its root is the state tree over them. */
export function initGenesis (input: GenesisInput): Genesis {
  if (!CHAIN_ID.test(input.chainId)) throw new LedgerError('GENESIS_INVALID', 'bad chain id', input.chainId)
  if (input.members.length === 0) throw new LedgerError('GENESIS_INVALID', 'no members')
  const values = new Map<string, unknown>()
  values.set(keys.chain(), { chainId: input.chainId } satisfies ChainInfo)
  for (const m of input.members) {
    if (!MEMBER_NAME.test(m.name)) throw new LedgerError('GENESIS_INVALID', 'bad member name', m.name)
    if (!(m.publicKey instanceof Uint8Array) || m.publicKey.length !== 32) throw new LedgerError('GENESIS_INVALID', 'member key must be 32 bytes', m.name)
    const problem = publicKeyProblem(m.publicKey)
    if (problem !== null) throw new LedgerError('GENESIS_INVALID', `member ${m.name}: not an acceptable ed25519 public key (${problem})`, toHex(m.publicKey))
    if (values.has(keys.member(m.name))) throw new LedgerError('GENESIS_INVALID', 'duplicate member name', m.name)
    if (values.has(keys.memberKey(m.publicKey))) throw new LedgerError('GENESIS_INVALID', 'duplicate member key', toHex(m.publicKey))
    values.set(keys.member(m.name), { name: m.name, key: m.publicKey } satisfies Member)
    values.set(keys.memberKey(m.publicKey), m.name)
  }
  const writes: Write[] = [...values.keys()].sort().map(k => [k, encode(values.get(k))])
  const state = new LedgerState()
  const tree = state.stateTreeUpdate(writes)
  const stateRoot = tree.root
  const changes = { height: 0, prevStateRoot: state.stateRoot, stateRoot, writes, tree }
  decodedWrites.set(changes, values)
  state.apply(changes)
  return { state, writes, stateRoot }
}
