// Every example the CLI's help and the README show must run: each `tx` example's body is
// parsed as the CLI parses it (bodyFromJson, then the ledger schema), and the examples are
// executed in order on a real ledger, where each must succeed; every decision query example
// uses words the node accepts.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { toHex, utf8 } from '../../codec/index.js'
import { sha256 } from '../../crypto/index.js'
import { isTxKind, parseTxBody, type TxKind } from '../../ledger/index.js'
import { bodyFromJson } from '../../cli/bodies.js'
import { decisionParams } from '../../node/query/params.js'
import { MAIN } from '../integration/cluster.js'
import { ROOT } from '../ops/harness.js'
import { Chain, DAY } from '../ledger/harness.js'

interface TxExample { kind: string, keyFile: string, body: string }

/** `tx <kind> --key FILE ... --body '<json>'` or `"<json>"`, possibly over several lines. */
function txExamples (text: string): TxExample[] {
  const joined = text.replace(/\\\n\s*/g, ' ')
  const out: TxExample[] = []
  for (const m of joined.matchAll(/\btx ([a-z_.]+)\s+--key (\S+)(?: --wait)?\s+--body ('([^']*)'|"((?:[^"\\]|\\.)*)")/g)) {
    out.push({ kind: m[1], keyFile: m[2], body: m[4] ?? m[5].replace(/\\"/g, '"') })
  }
  return out
}

function run (t: Test, examples: TxExample[], vars: (c: Chain, done: Map<string, string>) => Record<string, string>): void {
  const c = new Chain()
  // Key files of the examples → signers on the test chain (a member, a patient, a provider).
  const signer = (file: string): string => /member|node_key/.test(file) ? 'alpha' : /patient/.test(file) ? 'patient' : /provider/.test(file) ? 'provider' : file
  const done = new Map<string, string>()
  for (const ex of examples) {
    let text = ex.body
    for (const [name, value] of Object.entries(vars(c, done))) text = text.split(name).join(value)
    t.notMatch(text, /<|\$/, `${ex.kind}: every placeholder filled: ${text}`)
    t.ok(isTxKind(ex.kind), `${ex.kind} is a kind`)
    let body
    try { body = parseTxBody(ex.kind as TxKind, bodyFromJson(JSON.parse(text), c.time)) } catch (err) {
      t.fail(`${ex.kind} ${ex.body}: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`)
      continue
    }
    const tx = c.tx(signer(ex.keyFile), ex.kind as TxKind, body)
    const result = c.block([tx]).results[0]
    t.equal(result.code, 'OK', `${ex.kind} --body ${ex.body} runs: ${result.code} ${result.log ?? ''}`)
    done.set(ex.kind, tx.idHex)
  }
}

t.test('the examples of `medchain tx --help` parse and run', async t => {
  const help = spawnSync(process.execPath, [MAIN, 'tx', '--help'], { encoding: 'utf8', timeout: 30_000 })
  t.equal(help.status, 0, help.stderr)
  const examples = txExamples(help.stdout)
  t.ok(examples.length >= 5, `${examples.length} examples in the help`)
  t.ok(examples.some(e => e.kind === 'access.log'), 'the access.log example is among them')
  run(t, examples, (c, done) => ({
    '<provider pubkey>': toHex(c.key('provider')),
    '<patient id>': toHex(c.key('patient')),
    '<tx id of the grant>': done.get('consent.grant') ?? 'no grant yet'
  }))
})

t.test('the README walkthrough parses and runs; its decision query uses real words', async t => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const examples = txExamples(readme)
  t.ok(examples.length >= 4, `${examples.length} tx examples in README.md`)
  t.ok(examples.some(e => e.kind === 'representation.designate') && examples.some(e => e.keyFile === 'parent.json'), 'acting for a patient is walked through')
  run(t, examples, c => ({
    '$PROVIDER': toHex(c.key('provider')),
    '$PATIENT': toHex(c.key('patient')),
    '$CHILD': toHex(c.key('child.json')),
    '$PARENT': toHex(c.key('parent.json')),
    '$REGISTRAR': toHex(c.key('registrar.json')),
    '$DOC': toHex(sha256(utf8('birth certificate 4711'))),
    '$NOW': String(c.time - DAY),
    '$IN90D': String(c.time + 90 * DAY)
  }))
  const decisions = [...readme.matchAll(/query decision ([^\n]+)/g)].map(m => m[1])
  t.ok(decisions.length >= 1, 'a decision example')
  for (const line of decisions) {
    const opt = (name: string): string => new RegExp(`--${name} (\\S+)`).exec(line)?.[1] ?? ''
    t.doesNotThrow(() => decisionParams({ patient: 'a'.repeat(64), grantee: 'b'.repeat(64), category: opt('category'), action: opt('action'), purpose: opt('purpose') }), line)
  }
})

t.test('the extractor finds a misspelled example (the check can fail)', async t => {
  const [bad] = txExamples(`medchain tx access.log --key provider.json --body '{"patient":"${'a'.repeat(64)}","category":"lab","action":"read","purpose":"TREAT"}'`)
  t.equal(bad.kind, 'access.log')
  t.throws(() => parseTxBody('access.log', bodyFromJson(JSON.parse(bad.body))), { code: 'TX_MALFORMED' }, '"lab" is refused, as the old help example was')
})

t.test('window bounds may be written relative to the clock', async t => {
  t.same(bodyFromJson({ validFrom: 'now', validUntil: '+2h' }, 1000), { validFrom: 1000, validUntil: 1000 + 2 * 3_600_000 })
  t.same(bodyFromJson({ validFrom: 5, validUntil: '+90d' }, 0), { validFrom: 5, validUntil: 90 * DAY })
  for (const bad of ['tomorrow', '+90', '-1d', '+1y']) t.throws(() => bodyFromJson({ validUntil: bad }), { code: 'CLI_BAD_BODY' }, bad)
})
