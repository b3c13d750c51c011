import { Command } from 'commander'
import { keysCommand } from './commands/keys.js'
import { initCommand } from './commands/init.js'
import { testnetCommand } from './commands/testnet.js'
import { devnetCommand } from './commands/devnet.js'
import { startCommand } from './commands/start.js'
import { txCommand } from './commands/tx.js'
import { queryCommand } from './commands/query.js'
import { verifyCommand } from './commands/verify.js'
import { verifyChainCommand } from './commands/verifyChain.js'
import { benchCommand } from './commands/bench.js'

/** The `medchain` command tree; the binary and the tests both build it here. */
export function buildProgram (): Command {
  const program = new Command('medchain')
    .description('medchain: a permissioned BFT ledger of patient consent and record access')
    .version('0.1.0')
    .showHelpAfterError()
  program.addCommand(keysCommand())
  program.addCommand(initCommand())
  program.addCommand(testnetCommand())
  program.addCommand(devnetCommand())
  program.addCommand(startCommand())
  program.addCommand(txCommand())
  program.addCommand(queryCommand())
  program.addCommand(verifyCommand())
  program.addCommand(verifyChainCommand())
  program.addCommand(benchCommand())
  return program
}
