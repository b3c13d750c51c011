import { writeFileSync } from 'node:fs'
import { Command } from 'commander'
import { toHex } from '../../codec/index.js'
import { createHome, homePaths } from '../home.js'
import type { Genesis } from '../../node/genesis.js'

export interface TestnetOptions { validators: number, out: string, chainId: string, basePort: number, genesisTime?: number }

/** Ports of validator i: API at base + 10 i, p2p at base + 10 i + 1. */
export function portsOf (basePort: number, index: number): { api: number, p2p: number } {
  return { api: basePort + index * 10, p2p: basePort + index * 10 + 1 }
}

/** Writes one home per validator and the shared genesis.json into each. */
export function writeTestnet (opts: TestnetOptions): { genesis: Genesis, homes: string[] } {
  const homes: string[] = []
  const validators: Genesis['validators'] = []
  for (let i = 0; i < opts.validators; i++) {
    const home = homePaths(`${opts.out}/node${i}`).home
    const ports = portsOf(opts.basePort, i)
    const { key } = createHome(home, { moniker: `node${i}`, apiPort: ports.api, p2pPort: ports.p2p })
    homes.push(home)
    validators.push({ name: `node${i}`, publicKey: toHex(key.publicKey), power: 1, p2p: `/ip4/127.0.0.1/tcp/${ports.p2p}` })
  }
  // Genesis time is data, fixed once here; the chain never reads a clock in consensus.
  const genesis: Genesis = { chainId: opts.chainId, genesisTime: opts.genesisTime ?? Date.now(), validators }
  for (const home of homes) writeFileSync(homePaths(home).genesis, JSON.stringify(genesis, null, 2) + '\n')
  return { genesis, homes }
}

export function testnetCommand (): Command {
  return new Command('testnet')
    .description('write genesis.json and one node home per validator (keys, config.toml with distinct ports)')
    .requiredOption('--out <dir>', 'folder to create the homes in (node0, node1, ...)')
    .option('--validators <n>', 'number of validators', v => parseInt(v, 10), 4)
    .option('--chain-id <id>', 'chain id', 'medchain-testnet')
    .option('--base-port <port>', 'API port of node0; node i uses base+10i (API) and base+10i+1 (p2p)', v => parseInt(v, 10), 26600)
    .action((o: { out: string, validators: number, chainId: string, basePort: number }) => {
      const { homes } = writeTestnet({ validators: o.validators, out: o.out, chainId: o.chainId, basePort: o.basePort })
      for (const h of homes) console.log(h)
    })
}
