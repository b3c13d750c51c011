// Acting for a patient on a real node process (issue 19): a registrar registers a parent's
// representation of a child, the parent grants a paediatrician, the paediatrician's access is
// permitted and the child's trail shows the parent as the actor; once a block's time passes
// the child's majority date the parent's new grants are refused, and the grown patient
// revokes the parent's old grant.
import t from 'tap'
import { toHex, utf8 } from '../../codec/index.js'
import { generateSeed, sha256 } from '../../crypto/index.js'
import { fastSigner, type TxSigner } from '../../ledger/index.js'
import { Cluster, sleep } from './cluster.js'

const cluster = new Cluster(1)
t.teardown(async () => { await cluster.stopAll() })

const member = fastSigner(cluster.nodes[0].seed)
const childSeed = generateSeed()
const child = fastSigner(childSeed)
const parent = fastSigner(generateSeed())
const registrar = fastSigner(generateSeed())
const paediatrician = fastSigner(generateSeed())
const client = cluster.nodes[0].client
const childId = toHex(child.publicKey)
// The child's own reads (docs/access-table.md P1, P3): a patient reads everything about themself.
const asChild = client.as(childSeed)
const DAY = 86_400_000

type Committed = Record<string, unknown> & { id: string, code: string, log?: string, height: number, events: Array<{ type: string, attributes: Record<string, unknown> }> }
type Entry = { type: string, actor: string, by: string, permit?: boolean, actedAs?: { representative: string, basis: string } }

async function send (...args: Parameters<typeof client.send>): Promise<Committed> {
  return await client.send(...args) as Committed
}

async function blockTime (height: number): Promise<number> {
  return (await client.get<{ header: { time: number } }>(`/v1/blocks/${height}`)).header.time
}

const grantBody = (grantee: TxSigner, now: number) => ({
  patient: child.publicKey, grantee: { type: 'provider' as const, key: grantee.publicKey }, categories: ['immunizations' as const], actions: ['read' as const], purposes: ['TREAT' as const], validFrom: now - DAY, validUntil: now + 90 * DAY
})

t.test('a parent acts for a child until the majority date; the grown patient revokes', async t => {
  await cluster.startAll()
  t.equal((await send('patient.register', {}, child, { wait: true })).code, 'OK')
  t.equal((await send('provider.register', { key: registrar.publicKey, role: 'admin', name: 'Admissions' }, member, { wait: true })).code, 'OK')
  const reg = await send('provider.register', { key: paediatrician.publicKey, role: 'physician', name: 'Dr Paed' }, member, { wait: true })
  t.equal(reg.code, 'OK')

  // The majority date: a few seconds past the block time now, so the parent still acts first.
  const majority = await blockTime(reg.height) + 12_000
  const designated = await send('representation.designate', {
    patient: child.publicKey, representative: parent.publicKey, scope: ['answer', 'grant', 'revoke', 'trail'], basis: 'parent_of_minor',
    document: sha256(utf8('birth certificate 4711')), majority
  }, registrar, { wait: true })
  t.equal(designated.code, 'OK')

  const now = await blockTime(designated.height)
  const grant = await send('consent.grant', grantBody(paediatrician, now), parent, { wait: true })
  t.equal(grant.code, 'OK', `the parent grants for the child: ${grant.code} ${grant.log ?? ''}`)
  t.ok(await blockTime(grant.height) < majority, 'granted before the majority date')

  const access = await send('access.log', { patient: child.publicKey, category: 'immunizations', action: 'read', purpose: 'TREAT' }, paediatrician, { wait: true })
  t.same([access.code, access.events[0].attributes.permit, access.events[0].attributes.reason], ['OK', true, 'CONSENT_GRANTED'], 'the paediatrician is permitted')

  const trail = await asChild.get<{ entries: Entry[] }>(`/v1/patients/${childId}/audit`)
  const granted = trail.entries.find(e => e.type === 'consent.granted')
  t.same([granted?.actor, granted?.actedAs?.basis, granted?.by], [toHex(parent.publicKey), 'parent_of_minor', `by representative ${toHex(parent.publicKey)} (parent_of_minor)`], 'the child\'s trail shows the parent as the actor')
  t.equal(trail.entries.find(e => e.type === 'access')?.permit, true)
  const reps = await asChild.get<{ representatives: Array<{ status: string, representation: { representative: string, basis: string } }> }>(`/v1/patients/${childId}/representatives`)
  t.same(reps.representatives.map(r => [r.status, r.representation.representative, r.representation.basis]), [['active', toHex(parent.publicKey), 'parent_of_minor']])

  // Positive sign that the date has passed on chain: a committed block whose time is past it.
  let last = grant
  for (let i = 0; i < 200 && await blockTime(last.height) < majority; i++) {
    last = await send('patient.register', {}, fastSigner(generateSeed()), { wait: true })
    if (await blockTime(last.height) < majority) await sleep(500)
  }
  t.ok(await blockTime(last.height) >= majority, `block ${last.height} is past the majority date`)

  const late = await send('consent.grant', grantBody(registrar, now), parent, { wait: true })
  t.same([late.code, late.log], ['REPRESENTATION_INACTIVE', 'REPRESENTATION_MAJORITY'], 'the parent\'s new grant is refused')
  const after = await asChild.get<{ representatives: Array<{ status: string }> }>(`/v1/patients/${childId}/representatives`)
  t.same(after.representatives.map(r => r.status), ['majority'], 'ended with no transaction')
  const decision = async (): Promise<[boolean, string]> => {
    const d = await client.get<{ permit: boolean, reason: string }>(`/v1/decision?patient=${childId}&grantee=${toHex(paediatrician.publicKey)}&category=immunizations&action=read&purpose=TREAT`)
    return [d.permit, d.reason]
  }
  t.same(await decision(), [true, 'CONSENT_GRANTED'], 'the parent\'s earlier grant stays valid')

  const revoked = await send('consent.revoke', { grantId: Buffer.from(grant.id, 'hex') }, child, { wait: true })
  t.equal(revoked.code, 'OK', 'the grown patient revokes it')
  t.same(await decision(), [false, 'CONSENT_REVOKED'])
})
