import { Command } from 'commander'
import { toHex } from '../../codec/index.js'
import { generateSeed, readKeyFile, writeKeyFile } from '../../crypto/index.js'

export function keysCommand (): Command {
  const cmd = new Command('keys').description('create and show ed25519 keys (patients, providers, members)')
  cmd.command('generate')
    .description('write a new key file (mode 0600) and print its public key')
    .requiredOption('--out <file>', 'key file to create (refuses to overwrite)')
    .action((o: { out: string }) => {
      const k = writeKeyFile(o.out, generateSeed())
      console.log(JSON.stringify({ file: o.out, publicKey: toHex(k.publicKey) }))
    })
  cmd.command('show')
    .description('print the public key of a key file')
    .argument('<file>', 'key file')
    .action((file: string) => {
      const k = readKeyFile(file)
      console.log(JSON.stringify({ file, publicKey: toHex(k.publicKey) }))
    })
  return cmd
}
