import { Command } from 'commander'
import { readKeyFile } from '../../crypto/index.js'
import { MAX_PAGE_LIMIT } from '../../ledger/index.js'
import { decisionParams, pageParams } from '../../node/query/params.js'
import { MedchainClient } from '../client.js'

const KEY_HELP = 'key file to sign the request with (a patient, provider, or member key; docs/access-table.md)'

/** --node, and --key: the key file every request is signed with (as for transactions). */
const nodeOption = (cmd: Command): Command => cmd
  .option('--node <url>', 'node API URL', process.env.MEDCHAIN_NODE ?? 'http://127.0.0.1:26600')
  .option('--key <file>', KEY_HELP, process.env.MEDCHAIN_KEY)

function clientOf (o: { node: string, key?: string }): MedchainClient {
  return new MedchainClient(o.node, o.key === undefined ? {} : { key: readKeyFile(o.key).seed })
}

function q (name: string, description: string, path: (...args: string[]) => string, args: string[] = []): Command {
  const cmd = new Command(name).description(description)
  for (const a of args) cmd.argument(`<${a}>`)
  nodeOption(cmd)
  cmd.action(async (...params: unknown[]) => {
    const values = params.slice(0, args.length) as string[]
    const opts = params[args.length] as { node: string, key?: string }
    console.log(JSON.stringify(await clientOf(opts).get(path(...values)), null, 2))
  })
  return cmd
}

interface PageOptions { node: string, key?: string, purpose?: string, category?: string, record?: string, limit?: number, before?: string, after?: string, all?: boolean }

/**
 * A patient's list, newest first: one page (with `next`), or with --all every page,
 * following `next` until the end; `field` is the list's name in the response.
 */
function paged (name: string, description: string, route: string, field: string, list: 'audit' | 'items'): Command {
  const cmd = new Command(name).description(`${description}, newest first, a page at a time`)
    .argument('<patient>')
    .option('--limit <n>', `entries per page (1..${MAX_PAGE_LIMIT}, default 100)`, v => parseInt(v, 10))
    .option('--before <cursor>', 'entries older than this cursor (a page\'s "next")')
    .option('--after <cursor>', 'entries newer than this cursor')
    .option('--all', 'follow "next" and print every entry')
  nodeOption(cmd)
  if (name === 'records') {
    cmd.option('--purpose <code>', 'as a provider: the purpose of use (HL7 PurposeOfUse, e.g. TREAT); the access is logged on chain first, then read under it')
      .option('--category <c>', 'as a provider: the category to read')
      .option('--record <id>', 'as a provider: the record to read')
  }
  cmd.action(async (patient: string, o: PageOptions) => {
    const client = clientOf(o)
    if (o.purpose !== undefined) {
      console.log(JSON.stringify(await client.readRecordsAsProvider(patient, { purpose: o.purpose, ...(o.record !== undefined ? { record: o.record } : { category: o.category }) }), null, 2))
      return
    }
    // Checked here as the node checks it: a bad cursor never leaves the machine.
    let page = pageParams(list, { before: o.before, after: o.after, limit: o.limit })
    const direction = page.after !== undefined ? 'after' : 'before'
    const url = (): string => {
      const p = new URLSearchParams({ limit: String(page.limit) })
      if (page.before !== undefined) p.set('before', page.before)
      if (page.after !== undefined) p.set('after', page.after)
      return `/v1/patients/${encodeURIComponent(patient)}/${route}?${p.toString()}`
    }
    let res = await client.get<Record<string, unknown> & { next: string | null }>(url())
    if (o.all !== true) { console.log(JSON.stringify(res, null, 2)); return }
    const items = [...res[field] as unknown[]]
    while (res.next !== null) {
      page = { limit: page.limit, [direction]: res.next }
      res = await client.get(url())
      // Forward pages come newest first within each page, so later pages go in front.
      if (direction === 'after') items.unshift(...res[field] as unknown[]); else items.push(...res[field] as unknown[])
    }
    console.log(JSON.stringify({ ...res, [field]: items, next: null }, null, 2))
  })
  return cmd
}

export function queryCommand (): Command {
  const cmd = new Command('query').description('read chain state from a node')
  cmd.addCommand(q('status', 'chain and node status', () => '/v1/status'))
  cmd.addCommand(q('validators', 'validators and their liveness', () => '/v1/validators'))
  cmd.addCommand(q('block', 'a block by height (or "latest")', h => `/v1/blocks/${encodeURIComponent(h)}`, ['height']))
  cmd.addCommand(q('tx', 'a transaction by id, with its result code and reason', id => `/v1/txs/${id}`, ['id']))
  cmd.addCommand(q('receipt', 'receipt of a committed transaction (proof + commit certificate)', id => `/v1/txs/${id}/receipt`, ['id']))
  cmd.addCommand(q('account', 'next nonce of a key', k => `/v1/accounts/${k}`, ['key']))
  cmd.addCommand(paged('consents', 'consents of a patient (active and past)', 'consents', 'consents', 'items'))
  cmd.addCommand(paged('audit', 'audit trail of a patient', 'audit', 'entries', 'audit'))
  cmd.addCommand(paged('requests', 'pending access requests of a patient', 'requests', 'requests', 'items'))
  cmd.addCommand(paged('records', 'records of a patient with amendments', 'records', 'records', 'items'))
  cmd.addCommand(paged('representatives', 'who may act for a patient (parents, guardians, representatives) and their status', 'representatives', 'representatives', 'items'))
  cmd.addCommand(q('break-glass', 'break-glass events of a patient', p => `/v1/patients/${p}/break-glass`, ['patient']))
  const decision = new Command('decision').description('access decision for (patient, grantee, category, action, purpose[, time]) with its reason')
    .requiredOption('--patient <id>').requiredOption('--grantee <key>').requiredOption('--category <c>')
    .requiredOption('--action <read|write>').requiredOption('--purpose <code>').option('--time <ms>')
  nodeOption(decision)
  decision.action(async (o: Record<string, string>) => {
    // The words are checked against the ledger's lists before anything is sent (API_BAD_<FIELD>).
    const checked = decisionParams({ patient: o.patient, grantee: o.grantee, category: o.category, action: o.action, purpose: o.purpose })
    const params = new URLSearchParams({ patient: checked.patient, grantee: checked.grantee, category: checked.category, action: checked.action, purpose: checked.purpose, ...(o.time !== undefined ? { time: o.time } : {}) })
    console.log(JSON.stringify(await clientOf({ node: o.node, key: o.key }).get(`/v1/decision?${params.toString()}`), null, 2))
  })
  cmd.addCommand(decision)
  return cmd
}
