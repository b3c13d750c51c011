// Test fixture: real libp2p hosts on 127.0.0.1 with real TCP ports (port 0, then addresses
// are exchanged), recording everything their handlers receive.
import { generateSeed, publicKeyFromSeed, sha256 } from '../../crypto/index.js'
import { utf8 } from '../../codec/index.js'
import { waitFor } from '../wait.js'
import { createP2PHost, type P2PHost, type P2PHostOptions, type PeerStatusEvent, type PeerRef, type SyncRequest } from '../../p2p/index.js'

export const CHAIN_ID = 'medchain-test'
export const GENESIS = sha256(utf8('genesis of medchain-test'))

export interface Recorder {
  txBatches: Array<{ bytes: Uint8Array, from: PeerRef }>
  consensus: Array<{ bytes: Uint8Array, from: PeerRef }>
  events: PeerStatusEvent[]
  logs: string[]
  blocks: Map<number, Uint8Array>
  /** Called on every consensus message (for throughput tests). */
  onConsensus?: (bytes: Uint8Array) => void
  onTx?: (bytes: Uint8Array) => void
  /** Awaited before a sync request is served (to stall or fail it). */
  syncHook?: (req: SyncRequest) => Promise<void>
}

export interface Node {
  seed: Uint8Array
  publicKey: Uint8Array
  host: P2PHost
  rec: Recorder
  port: number
}

export function newRecorder (): Recorder {
  return { txBatches: [], consensus: [], events: [], logs: [], blocks: new Map() }
}

export interface StartOptions {
  seed: Uint8Array
  port?: number
  members: Array<{ publicKey: Uint8Array, multiaddr?: string }>
  genesisHash?: Uint8Array
  rec?: Recorder
  keepMessages?: boolean
  extra?: Partial<P2PHostOptions>
}

export async function startNode (o: StartOptions): Promise<Node> {
  const rec = o.rec ?? newRecorder()
  const keep = o.keepMessages ?? true
  const host = await createP2PHost({
    seed: o.seed,
    listen: { host: '127.0.0.1', port: o.port ?? 0 },
    chainId: CHAIN_ID,
    genesisHash: o.genesisHash ?? GENESIS,
    members: o.members,
    timing: { statusIntervalMs: 1_000, redialMaxBackoffMs: 1_000 },
    handlers: {
      onTxBatch: (bytes, from) => { if (keep) rec.txBatches.push({ bytes, from }); rec.onTx?.(bytes) },
      onConsensusMessage: (bytes, from) => { if (keep) rec.consensus.push({ bytes, from }); rec.onConsensus?.(bytes) },
      onSyncRequest: async (req: SyncRequest) => {
        await rec.syncHook?.(req)
        const blocks: Uint8Array[] = []
        for (let h = req.from; h <= req.to; h++) {
          const b = rec.blocks.get(h)
          if (b == null) break
          blocks.push(b)
        }
        return { blocks }
      },
      onPeerStatus: (e) => { rec.events.push(e) }
    },
    log: (level, message) => { rec.logs.push(`${level} ${message}`) },
    ...o.extra
  })
  const port = Number(host.multiaddrs()[0].split('/')[4])
  return { seed: o.seed, publicKey: publicKeyFromSeed(o.seed), host, rec, port }
}

export function addressOf (node: Node): string {
  return `/ip4/127.0.0.1/tcp/${node.port}`
}

/** Starts n members, tells each the others' addresses and waits until fully connected. */
export async function startCluster (n: number, extra?: Partial<P2PHostOptions> | ((i: number) => Partial<P2PHostOptions>), extraMemberKeys: Uint8Array[] = [], keepMessages = true): Promise<Node[]> {
  const seeds = Array.from({ length: n }, () => generateSeed())
  const members = [...seeds, ...extraMemberKeys].map((x, i) => ({ publicKey: i < n ? publicKeyFromSeed(x) : x }))
  const nodes = await Promise.all(seeds.map(async (seed, i) => await startNode({ seed, members, keepMessages, extra: typeof extra === 'function' ? extra(i) : extra })))
  for (const a of nodes) {
    for (const b of nodes) if (a !== b) a.host.setMemberAddress(b.publicKey, addressOf(b))
  }
  try {
    await waitFor('full mesh', 30_000, () => nodes.every(x => x.host.connectedMembers().length === n - 1), 20)
  } catch (err) {
    // The caller never gets the nodes to stop: stop them here, or the test file hangs until tap's timeout.
    await stopAll(nodes)
    throw err
  }
  return nodes
}

export async function stopAll (nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map(async n => { await n.host.stop() }))
}
