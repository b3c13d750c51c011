import { Command } from 'commander'
import { readKeyFile } from '../../crypto/index.js'
import { MedchainClient } from '../client.js'

const KEY_HELP = 'key file to sign the request with (a patient, provider, or member key; docs/access-table.md)'

function clientOf (o: { node: string, key?: string }): MedchainClient {
  return new MedchainClient(o.node, o.key === undefined ? {} : { key: readKeyFile(o.key).seed })
}

function q (name: string, description: string, path: (...args: string[]) => string, args: string[] = []): Command {
  const cmd = new Command(name).description(description)
  for (const a of args) cmd.argument(`<${a}>`)
  cmd.option('--node <url>', 'node API URL', process.env.MEDCHAIN_NODE ?? 'http://127.0.0.1:26600')
  cmd.option('--key <file>', KEY_HELP, process.env.MEDCHAIN_KEY)
  cmd.action(async (...params: unknown[]) => {
    const values = params.slice(0, args.length) as string[]
    const opts = params[args.length] as { node: string, key?: string }
    console.log(JSON.stringify(await clientOf(opts).get(path(...values)), null, 2))
  })
  return cmd
}

export function queryCommand (): Command {
  const cmd = new Command('query').description('read chain state from a node')
  cmd.addCommand(q('status', 'chain and node status', () => '/v1/status'))
  cmd.addCommand(q('validators', 'validators and their liveness', () => '/v1/validators'))
  cmd.addCommand(q('block', 'a block by height (or "latest")', h => `/v1/blocks/${encodeURIComponent(h)}`, ['height']))
  cmd.addCommand(q('tx', 'a transaction by id', id => `/v1/txs/${id}`, ['id']))
  cmd.addCommand(q('receipt', 'receipt of a committed transaction (proof + commit certificate)', id => `/v1/txs/${id}/receipt`, ['id']))
  cmd.addCommand(q('account', 'next nonce of a key', k => `/v1/accounts/${k}`, ['key']))
  cmd.addCommand(q('consents', 'consents of a patient (active and past)', p => `/v1/patients/${p}/consents`, ['patient']))
  cmd.addCommand(q('audit', 'audit trail of a patient', p => `/v1/patients/${p}/audit`, ['patient']))
  cmd.addCommand(q('requests', 'pending access requests of a patient', p => `/v1/patients/${p}/requests`, ['patient']))
  const records = new Command('records').description('records of a patient with amendments (a provider: logs the access on chain first, then reads the category or record under it)')
    .argument('<patient>')
    .option('--node <url>', 'node API URL', process.env.MEDCHAIN_NODE ?? 'http://127.0.0.1:26600')
    .option('--key <file>', KEY_HELP, process.env.MEDCHAIN_KEY)
    .option('--purpose <code>', 'a provider\'s purpose of use (HL7 PurposeOfUse, e.g. TREAT)')
    .option('--category <c>', 'a provider\'s category to read')
    .option('--record <id>', 'a provider\'s record to read')
    .action(async (patient: string, o: { node: string, key?: string, purpose?: string, category?: string, record?: string }) => {
      const client = clientOf(o)
      const out = o.purpose === undefined
        ? await client.get(`/v1/patients/${patient}/records`)
        : await client.readRecordsAsProvider(patient, { purpose: o.purpose, ...(o.record !== undefined ? { record: o.record } : { category: o.category }) })
      console.log(JSON.stringify(out, null, 2))
    })
  cmd.addCommand(records)
  cmd.addCommand(q('break-glass', 'break-glass events of a patient', p => `/v1/patients/${p}/break-glass`, ['patient']))
  const decision = new Command('decision').description('access decision for (patient, grantee, category, action, purpose[, time]) with its reason')
    .requiredOption('--patient <id>').requiredOption('--grantee <key>').requiredOption('--category <c>')
    .requiredOption('--action <read|write>').requiredOption('--purpose <code>').option('--time <ms>')
    .option('--node <url>', 'node API URL', process.env.MEDCHAIN_NODE ?? 'http://127.0.0.1:26600')
    .option('--key <file>', KEY_HELP, process.env.MEDCHAIN_KEY)
    .action(async (o: Record<string, string>) => {
      const params = new URLSearchParams({ patient: o.patient, grantee: o.grantee, category: o.category, action: o.action, purpose: o.purpose, ...(o.time !== undefined ? { time: o.time } : {}) })
      console.log(JSON.stringify(await clientOf({ node: o.node, key: o.key }).get(`/v1/decision?${params.toString()}`), null, 2))
    })
  cmd.addCommand(decision)
  return cmd
}
