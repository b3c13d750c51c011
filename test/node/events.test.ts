// The event stream under a client that stops reading: the node keeps at most a bounded
// backlog for it, then disconnects it, and a client that reads keeps getting every event.
import t from 'tap'
import { connect } from 'node:net'
import { Registry } from 'prom-client'
import { createApi, type ApiBackend, type ChainEvent } from '../../node/api.js'
import { createMetrics } from '../../node/metrics.js'
import { sleep, waitFor } from '../wait.js'
import { TokenSigner, audienceOf } from '../../node/auth/token.js'
import { generateSeed, publicKeyFromSeed } from '../../crypto/index.js'
import { toHex } from '../../codec/index.js'


t.test('a stalled event-stream client is disconnected past the backlog bound; a reading one is not', async t => {
  const listeners = new Set<(e: ChainEvent) => void>()
  // The stream needs only subscribe(); any other route reached here is a test bug.
  const memberSeed = generateSeed()
  const memberKey = toHex(publicKeyFromSeed(memberSeed))
  // The stream is read by a member (docs/access-table.md, E1); identify() is how the API learns it.
  const backend = new Proxy({
    subscribe: (l: (e: ChainEvent) => void) => { listeners.add(l); return () => listeners.delete(l) },
    identify: (key: string) => key === memberKey ? { kind: 'member', key, name: 'm' } : null
  }, {
    get: (target, prop) => prop in target ? (target as Record<string | symbol, unknown>)[prop] : () => { throw new Error(`backend.${String(prop)} not expected`) }
  }) as unknown as ApiBackend
  const metrics = createMetrics(new Registry())
  const nodeKey = 'ab'.repeat(32)
  const app = await createApi(backend, { maxBodyBytes: 1024, maxEventBacklogBytes: 256 * 1024, metrics, auth: { chainId: 'events-test', nodeKey, clock: Date.now } })
  const tokens = new TokenSigner(memberSeed)
  const request = async (): Promise<string> => `GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await tokens.mint(audienceOf('events-test', nodeKey))}\r\n\r\n`
  const [stalledRequest, readerRequest] = [await request(), await request()]
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => await app.close())
  const port = (app.server.address() as { port: number }).port

  // The stalled client: asks for the stream with a small receive buffer and never reads.
  const stalled = connect({ host: '127.0.0.1', port })
  stalled.on('connect', () => { stalled.write(stalledRequest); stalled.pause() })
  let stalledClosed = false
  stalled.on('close', () => { stalledClosed = true })
  stalled.on('error', () => {})
  // The reading client counts the events it receives.
  const reader = connect({ host: '127.0.0.1', port })
  let received = ''
  reader.on('connect', () => reader.write(readerRequest))
  reader.on('data', (chunk: Buffer) => { received += chunk.toString('latin1') })
  t.teardown(() => { stalled.destroy(); reader.destroy() })
  await waitFor('both clients to subscribe', 2_000, () => listeners.size === 2, 20).catch(() => {})
  t.equal(listeners.size, 2, 'both clients subscribed')

  // Events in small slices (22 KB), so the reading client drains between them.
  const data = { id: 'f'.repeat(64), kind: 'access.log', code: 'OK', pad: 'x'.repeat(1000) }
  let sent = 0
  for (let batch = 0; batch < 1500 && listeners.size === 2; batch++) {
    for (let i = 0; i < 20; i++) { for (const l of [...listeners]) l({ type: 'tx', height: batch, data }); sent++ }
    await sleep(10)
  }
  t.equal(listeners.size, 1, `after ${sent} events the stalled subscription is gone; the reader is still subscribed`)
  // A paused socket sees the server's close only once it reads what was buffered.
  stalled.resume()
  await waitFor('the stalled client to see the close', 4_000, () => stalledClosed, 20).catch(() => {})
  t.ok(stalledClosed, 'the stalled client was disconnected')
  const text = await metrics.register.metrics()
  t.match(text, /^medchain_api_event_subscribers_dropped_total 1$/m, 'the drop is counted')
  t.match(text, /^medchain_api_event_subscribers 1$/m, 'one stream open')
  const countEvents = (): number => received.split('event: tx').length - 1
  // Positive sign: every event sent has arrived (or the wait times out and the count shows the gap).
  await waitFor(`the reader to receive ${sent} events`, 10_000, () => countEvents() >= sent, 20).catch(() => {})
  const events = countEvents()
  t.equal(events, sent, `the reading client got every event (${events} of ${sent})`)
})
