import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * Prometheus scrape endpoint on its own listener (127.0.0.1 by default): metrics
 * tell who is busy when, so they stay off the API port patients and partners reach.
 */
export async function startMetricsListener (where: { host: string, port: number }, text: () => Promise<string>): Promise<{ url: string, close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'API_NOT_FOUND', message: 'this listener serves GET /metrics only' } }))
      return
    }
    text().then(body => { res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body) },
      () => { res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'INTERNAL', message: 'metrics failed' } })) })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(where.port, where.host, () => { server.off('error', reject); resolve() }) })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return {
    url: `http://${host}:${addr.port}/metrics`,
    close: async () => await new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
