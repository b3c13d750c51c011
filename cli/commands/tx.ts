import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { readKeyFile } from '../../crypto/index.js'
import { isTxKind, parseTxBody, seedSigner, TX_KINDS } from '../../ledger/index.js'
import { MedchainClient, clientTlsFromFiles } from '../client.js'
import { tlsOptions, type TlsFileOptions } from './tlsOptions.js'
import { fromHex } from '../../codec/index.js'
import { bodyFromJson } from '../bodies.js'
import { sealBody, sealedFieldOf, sealRecipients } from '../sealed.js'

/** Shown by `medchain tx --help`; test/cli/examples.test.ts checks every body against the ledger's schema. */
export const EXAMPLES = `
Examples (bytes as 64-char hex; times in ms since epoch, or "now" / "+90d"; sets in any order):
  medchain tx patient.register --key patient.json --body '{}'
  medchain tx provider.register --key member.json --body '{"key":"<provider pubkey>","role":"physician","name":"Dr. Who"}'
  medchain tx consent.grant --key patient.json --wait --body '{"grantee":{"type":"provider","key":"<provider pubkey>"},
      "categories":["*"],"actions":["read"],"purposes":["TREAT"],"validFrom":"now","validUntil":"+90d"}'
  medchain tx consent.revoke --key patient.json --body '{"grantId":"<tx id of the grant>"}'
  medchain tx access.log --key provider.json --body '{"patient":"<patient id>","category":"labs","action":"read","purpose":"TREAT"}'
  medchain tx access.request --key provider.json --body '{"patient":"<patient id>","categories":["labs"],"actions":["read"],"purposes":["TREAT"],"note":"referral from cardiology"}'

Free text (a request's note, a break-glass reason, a record's locator) written as plain text is
sealed before signing to the patient and to the sender's organisation (--seal-to adds keys);
validators store only the sealed boxes (docs/access-table.md).

Kinds: ${TX_KINDS.join(', ')}
Body fields of each kind: ledger/README.md`

export function txCommand (): Command {
  return tlsOptions(new Command('tx'))
    .description('build, sign and submit a transaction')
    .argument('<kind>', `transaction kind (${TX_KINDS.join('|')})`)
    .requiredOption('--key <file>', 'key file of the sender (medchain keys generate)')
    .option('--body <json>', 'transaction body as JSON (or @file.json)', '{}')
    .option('--node <url>', 'node API URL', process.env.MEDCHAIN_NODE ?? 'http://127.0.0.1:26600')
    .option('--nonce <n>', 'nonce (default: asked from the node)', v => parseInt(v, 10))
    .option('--wait', 'wait until the transaction is committed and print its result')
    .option('--seal-to <keys>', 'comma-separated ed25519 keys (hex) to seal free text to, besides the patient and the sender\'s organisation')
    .addHelpText('after', EXAMPLES)
    .action(async (kind: string, o: { key: string, body: string, node: string, nonce?: number, wait?: boolean, sealTo?: string } & TlsFileOptions) => {
      if (!isTxKind(kind)) throw Object.assign(new Error(`unknown kind ${kind}; one of ${TX_KINDS.join(', ')}`), { code: 'TX_UNKNOWN_KIND' })
      const text = o.body.startsWith('@') ? readFileSync(o.body.slice(1), 'utf8') : o.body
      let json: unknown
      try { json = JSON.parse(text) } catch (err) { throw Object.assign(new Error(`--body is not JSON: ${(err as Error).message}`), { code: 'CLI_BAD_BODY' }) }
      const key = readKeyFile(o.key)
      // The same key signs the transaction and the request (its nonce lookup, its rate-limit identity).
      const tls = clientTlsFromFiles(o)
      const client = new MedchainClient(o.node, { key: key.seed, ...(tls !== undefined ? { tls } : {}) })
      let raw = bodyFromJson(json)
      const field = sealedFieldOf(kind)
      if (field !== undefined && typeof raw[field] === 'string') {
        const extra = (o.sealTo ?? '').split(',').filter(k => k !== '').map(k => fromHex(k.trim(), 32))
        raw = sealBody(kind, raw, await sealRecipients(client, key.publicKey, raw, extra))
      }
      // Checked as a node checks it (the ledger's schema and word lists) before anything is signed.
      const body = parseTxBody(kind, raw)
      const res = await client.send(kind, body, seedSigner(key.seed), { wait: o.wait, nonce: o.nonce })
      console.log(JSON.stringify(res, null, 2))
      if (o.wait === true && res.code !== undefined && res.code !== 'OK') process.exitCode = 3
    })
}
