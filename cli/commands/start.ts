import { Command } from 'commander'
import { readConfig } from '../../node/config.js'
import { readGenesis } from '../../node/genesis.js'
import { MedchainNode } from '../../node/node.js'
import { homePaths, loadKey } from '../home.js'

export function startCommand (): Command {
  return new Command('start')
    .description('run a validator from its home folder (config.toml, genesis.json, node_key.json, data/)')
    .requiredOption('--home <dir>', 'node home folder')
    .action(async (o: { home: string }) => {
      const p = homePaths(o.home)
      const config = readConfig(p.home)
      const genesis = readGenesis(p.genesis)
      const key = loadKey(p.home)
      const node = new MedchainNode({ home: p.home, dataDir: p.data, config, genesis, seed: key.seed })
      let stopping = false
      const stop = (signal: string): void => {
        if (stopping) return
        stopping = true
        node.log.info('stopping', { signal })
        node.stop().then(() => process.exit(0), err => { console.error(err); process.exit(1) })
      }
      process.on('SIGTERM', () => stop('SIGTERM'))
      process.on('SIGINT', () => stop('SIGINT'))
      try {
        await node.start()
      } catch (err) {
        const e = err as { code?: string, message?: string }
        node.log.error('node failed to start', { code: e.code, err: e.message })
        await node.stop().catch(() => {})
        throw err
      }
    })
}
