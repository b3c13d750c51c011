import { Command } from 'commander'
import { writeTestnet } from './testnet.js'
import { dirname, basename } from 'node:path'
import { existsSync, renameSync, rmdirSync } from 'node:fs'
import { homePaths } from '../home.js'

export function initCommand (): Command {
  return new Command('init')
    .description('create a node home: a validator key, config.toml and a one-validator genesis.json')
    .requiredOption('--home <dir>', 'node home folder')
    .option('--chain-id <id>', 'chain id', 'medchain-local')
    .option('--api-port <port>', 'HTTP API port', v => parseInt(v, 10), 26600)
    .action((o: { home: string, chainId: string, apiPort: number }) => {
      const p = homePaths(o.home)
      if (existsSync(p.key)) throw new Error(`${p.home} is already initialised`)
      // A one-member chain is a testnet of one whose home is moved to the requested place.
      const staging = `${dirname(p.home)}/.${basename(p.home)}.init`
      writeTestnet({ validators: 1, out: staging, chainId: o.chainId, basePort: o.apiPort })
      renameSync(`${staging}/node0`, p.home)
      rmdirSync(staging)
      console.log(`initialised ${p.home}\n  key     ${p.key}\n  config  ${p.config}\n  genesis ${p.genesis}`)
    })
}
