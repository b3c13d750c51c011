import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { fromHex, toBase64, toHex } from '../../codec/index.js'
import { readKeyFile } from '../../crypto/index.js'
import { FHIR_JSON, consentToGrant } from '../../fhir/index.js'
import { isTxKind, parseTxBody, seedSigner, TX_KINDS } from '../../ledger/index.js'
import { MedchainClient, clientTlsFromFiles } from '../client.js'
import { tlsOptions, type TlsFileOptions } from './tlsOptions.js'
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
  medchain tx consent.import --key patient.json --fhir consent.json --valid-until +365d --wait
      (a FHIR R4 Consent as a consent.grant, or the OperationOutcome naming what a grant cannot say: docs/fhir.md)

Kinds: ${TX_KINDS.join(', ')}
Body fields of each kind: ledger/README.md`

export function txCommand (): Command {
  return tlsOptions(new Command('tx'))
    .description('build, sign and submit a transaction')
    .argument('<kind>', `transaction kind (${TX_KINDS.join('|')}), or consent.import`)
    .requiredOption('--key <file>', 'key file of the sender (medchain keys generate)')
    .option('--body <json>', 'transaction body as JSON (or @file.json)', '{}')
    .option('--node <url>', 'node API URL', process.env.MEDCHAIN_NODE ?? 'http://127.0.0.1:26600')
    .option('--nonce <n>', 'nonce (default: asked from the node)', v => parseInt(v, 10))
    .option('--wait', 'wait until the transaction is committed and print its result')
    .option('--seal-to <keys>', 'comma-separated ed25519 keys (hex) to seal free text to, besides the patient and the sender\'s organisation')
    .option('--fhir <file>', 'consent.import: the FHIR R4 Consent (JSON) to turn into a consent.grant')
    .option('--valid-until <time>', 'consent.import: end of the grant when the Consent has no provision.period.end (ms, or +365d)')
    .option('--patient <id>', 'consent.import: patient id, when the key is not the one the patient registered with')
    .addHelpText('after', EXAMPLES)
    .action(async (kind: string, o: { key: string, body: string, node: string, nonce?: number, wait?: boolean, sealTo?: string, fhir?: string, validUntil?: string, patient?: string } & TlsFileOptions) => {
      if (kind === 'consent.import') { await importConsent(o); return }
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

/**
 * `tx consent.import`: maps the Consent here (a refusal never leaves the machine), signs the
 * grant with the patient's key, and posts both to POST /fhir/Consent, which maps again and
 * accepts only a signature over exactly that grant.
 */
async function importConsent (o: { key: string, node: string, nonce?: number, wait?: boolean, fhir?: string, validUntil?: string, patient?: string }): Promise<void> {
  if (o.fhir === undefined) throw Object.assign(new Error('consent.import needs --fhir <file>'), { code: 'CLI_BAD_BODY' })
  let consent: unknown
  try { consent = JSON.parse(readFileSync(o.fhir, 'utf8')) } catch (err) { throw Object.assign(new Error(`--fhir ${o.fhir}: ${(err as Error).message}`), { code: 'CLI_BAD_BODY' }) }
  const key = readKeyFile(o.key)
  const signer = seedSigner(key.seed)
  const patient = o.patient === undefined ? signer.publicKey : fromHex(o.patient, 32)
  const validUntil = o.validUntil === undefined ? undefined : bodyFromJson({ validUntil: /^\d+$/.test(o.validUntil) ? Number(o.validUntil) : o.validUntil }).validUntil as number
  const mapped = consentToGrant(consent, { patient, validUntil })
  if (!mapped.ok) {
    console.error(JSON.stringify(mapped.outcome, null, 2))
    process.exitCode = 2
    return
  }
  const client = new MedchainClient(o.node, { key: key.seed })
  const built = await client.build('consent.grant', mapped.body, signer, o.nonce)
  const res = await fetch(`${o.node}/fhir/Consent${o.wait === true ? '?wait=commit' : ''}`, {
    method: 'POST',
    headers: { 'content-type': FHIR_JSON, 'x-medchain-tx': toBase64(built.bytes) },
    body: JSON.stringify(consent)
  })
  const text = await res.text()
  console.log(JSON.stringify({ id: toHex(built.id), status: res.status, resource: JSON.parse(text) as unknown }, null, 2))
  if (!res.ok) process.exitCode = 3
}
