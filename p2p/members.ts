// The member allow-list: genesis gives ed25519 public keys; libp2p identities are derived
// from them, so the allow-list is exactly the validator set.
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { toHex } from '../codec/index.js'
import { P2PError } from './errors.js'

export interface MemberConfig {
  publicKey: Uint8Array
  /** Where the member listens, e.g. /ip4/10.0.0.2/tcp/26656 (the /p2p/ part is added). */
  multiaddr?: string
}

/** What handlers get as the sender: the member's libp2p id and its genesis public key. */
export interface PeerRef {
  peerId: string
  publicKey: Uint8Array
}

export interface Member extends PeerRef {
  id: PeerId
  address?: Multiaddr
}

export function peerIdOfPublicKey (publicKey: Uint8Array): PeerId {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new P2PError('P2P_BAD_OPTIONS', 'member public key must be 32 bytes', publicKey)
  }
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey))
}

/** Parses a member address and pins it to the member's identity (/p2p/<id>). */
export function memberAddress (address: string, id: PeerId): Multiaddr {
  let ma: Multiaddr
  try {
    ma = multiaddr(address)
  } catch (err) {
    throw new P2PError('P2P_BAD_OPTIONS', `bad member multiaddr: ${String(err)}`, address)
  }
  const pinned = ma.getComponents().find(c => c.name === 'p2p')?.value
  if (pinned == null) return ma.encapsulate(`/p2p/${id.toString()}`)
  if (pinned !== id.toString()) {
    throw new P2PError('P2P_BAD_OPTIONS', `multiaddr names peer ${pinned}, key gives ${id.toString()}`, address)
  }
  return ma
}

export class MemberSet {
  private readonly byPeerId = new Map<string, Member>()

  constructor (configs: readonly MemberConfig[]) {
    for (const config of configs) {
      const id = peerIdOfPublicKey(config.publicKey)
      const key = id.toString()
      if (this.byPeerId.has(key)) throw new P2PError('P2P_BAD_OPTIONS', 'duplicate member key', toHex(config.publicKey))
      const member: Member = { id, peerId: key, publicKey: config.publicKey.slice() }
      if (config.multiaddr != null) member.address = memberAddress(config.multiaddr, id)
      this.byPeerId.set(key, member)
    }
  }

  get (peerId: PeerId | string): Member | undefined {
    return this.byPeerId.get(typeof peerId === 'string' ? peerId : peerId.toString())
  }

  has (peerId: PeerId | string): boolean {
    return this.get(peerId) != null
  }

  /** Members in a fixed order (sorted by peer id string). */
  list (): Member[] {
    return [...this.byPeerId.values()].sort((a, b) => a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0)
  }

  setAddress (publicKey: Uint8Array, address: string): Member {
    const member = this.get(peerIdOfPublicKey(publicKey))
    if (member == null) throw new P2PError('P2P_NOT_MEMBER', 'not a member key', toHex(publicKey))
    member.address = memberAddress(address, member.id)
    return member
  }
}
