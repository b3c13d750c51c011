// Words from clients are checked against the ledger's own lists: a misspelled category,
// purpose, action, role or grantee type is refused with a stable code that names the field
// and lists the allowed words, by the API's parser and by the CLI before anything is sent.
import t from 'tap'
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ACTIONS, CATEGORIES, GRANTEE_TYPES, PURPOSES, ROLES, VOCABULARY, isTerm, parseTxBody } from '../../ledger/index.js'
import { decisionParams, pageParams, termParam } from '../../node/query/params.js'
import { NodeError } from '../../node/errors.js'
import { MAIN } from '../integration/cluster.js'

const HEX = 'ab'.repeat(32)
const base = { patient: HEX, grantee: HEX, category: 'labs', action: 'read', purpose: 'TREAT' }
const refusal = (fn: () => unknown): NodeError => {
  try { fn() } catch (err) { if (err instanceof NodeError) return err; throw err }
  throw new Error('not refused')
}

t.test('the issue\'s misspelled categories are refused, the real ones pass', async t => {
  for (const category of ['mental-health', 'Mental_Health', 'HIV', 'lab', 'xyz', '*', '', 'labs ']) {
    const err = refusal(() => decisionParams({ ...base, category }))
    t.equal(err.code, 'API_BAD_CATEGORY', `category ${JSON.stringify(category)}`)
    t.equal(err.status, 400)
    t.equal(err.value, category, 'the refused value')
    t.same(err.details.allowed, CATEGORIES, 'lists the categories')
    t.equal(err.details.field, 'category')
    t.match(err.message, /mental_health/, 'the message lists the allowed words')
  }
  for (const category of CATEGORIES) t.equal(decisionParams({ ...base, category }).category, category)
})

t.test('purpose, action, role and grantee type are checked the same way', async t => {
  t.equal(refusal(() => decisionParams({ ...base, purpose: 'treat' })).code, 'API_BAD_PURPOSE')
  t.same(refusal(() => decisionParams({ ...base, purpose: 'treat' })).details.allowed, PURPOSES)
  t.equal(refusal(() => decisionParams({ ...base, action: 'READ' })).code, 'API_BAD_ACTION')
  t.equal(refusal(() => decisionParams({ ...base, action: 'delete' })).code, 'API_BAD_ACTION')
  t.equal(refusal(() => termParam('role', 'role', 'doctor')).code, 'API_BAD_ROLE')
  t.equal(refusal(() => termParam('granteeType', 'grantee.type', 'person')).code, 'API_BAD_GRANTEE_TYPE')
  t.same(decisionParams({ ...base, time: 5 }), { ...base, time: 5 })
  t.same(VOCABULARY.granteeType, GRANTEE_TYPES)
  t.ok(isTerm('role', ROLES[0]) && isTerm('action', ACTIONS[1]) && !isTerm('grantCategory', 'lab') && isTerm('grantCategory', '*'))
})

t.test('transaction bodies are checked against the ledger schema before signing', async t => {
  const patient = new Uint8Array(32).fill(1)
  t.same(parseTxBody('access.log', { patient, category: 'labs', action: 'read', purpose: 'TREAT' }), { patient, category: 'labs', action: 'read', purpose: 'TREAT' })
  const refused = (kind: Parameters<typeof parseTxBody>[0], body: unknown): string => { try { parseTxBody(kind, body); return 'OK' } catch (err) { return `${(err as { code: string }).code}: ${(err as Error).message}` } }
  t.match(refused('access.log', { patient, category: 'lab', action: 'read', purpose: 'TREAT' }), /^TX_MALFORMED: .*body\.category.*labs\|/)
  t.match(refused('access.log', { patient, category: 'labs', action: 'read', purpose: 'treat' }), /^TX_MALFORMED: .*TREAT/)
  t.match(refused('provider.register', { key: patient, role: 'doctor', name: 'x' }), /^TX_MALFORMED: .*physician/)
  t.match(refused('consent.grant', { grantee: { type: 'person', key: patient }, categories: ['*'], actions: ['read'], purposes: ['TREAT'], validFrom: 0, validUntil: 1 }), /^TX_MALFORMED: .*provider\|org\|role/)
  t.match(refused('access.log', { patient, action: 'read', purpose: 'TREAT' }), /^TX_MALFORMED: .*exactly one of category and record/)
})

t.test('page parameters: default limit, one cursor at a time, well-formed cursors', async t => {
  t.same(pageParams('audit', {}), { limit: 100 })
  t.same(pageParams('audit', { before: '12-3', limit: 5 }), { before: '12-3', limit: 5 })
  t.same(pageParams('items', { after: `7-${HEX}` }), { after: `7-${HEX}`, limit: 100 })
  t.equal(refusal(() => pageParams('audit', { before: '1-1', after: '1-2' })).code, 'API_BAD_CURSOR')
  t.equal(refusal(() => pageParams('audit', { before: `7-${HEX}` })).code, 'API_BAD_CURSOR', 'an item cursor is not an audit cursor')
  t.equal(refusal(() => pageParams('items', { after: '7-1' })).code, 'API_BAD_CURSOR')
})

t.test('the CLI refuses a misspelled decision query without contacting the node', async t => {
  // A stand-in listener that only counts requests: the refusals must not reach it.
  const requests: string[] = []
  const server = createServer((req, res) => { requests.push(req.url ?? ''); res.writeHead(200, { 'content-type': 'application/json' }).end('{"permit":false,"reason":"NO_CONSENT"}') })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const node = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const run = async (...args: string[]): Promise<{ status: number | null, out: string }> => {
    const child = spawn(process.execPath, [MAIN, 'query', ...args, '--node', node], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', d => { out += String(d) })
    child.stderr.on('data', d => { out += String(d) })
    const status = await new Promise<number | null>(resolve => child.on('exit', resolve))
    return { status, out }
  }
  const decision = (category: string, purpose: string): Promise<{ status: number | null, out: string }> =>
    run('decision', '--patient', HEX, '--grantee', HEX, '--category', category, '--action', 'read', '--purpose', purpose)
  const bad = await decision('mental-health', 'TREAT')
  t.equal(bad.status, 1)
  t.match(bad.out, /\[API_BAD_CATEGORY\].*mental_health/)
  t.match((await decision('labs', 'treat')).out, /\[API_BAD_PURPOSE\]/)
  t.match((await run('audit', HEX, '--before', 'yesterday')).out, /\[API_BAD_CURSOR\]/, 'a malformed cursor is refused before sending')
  t.same(requests, [], 'none of the refused queries was sent')
  const good = await decision('labs', 'TREAT')
  t.equal(good.status, 0, good.out)
  t.equal(requests.length, 1, 'a well-formed query is sent')
  t.match(requests[0], /^\/v1\/decision\?.*category=labs/)
})
