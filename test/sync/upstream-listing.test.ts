// An upstream's paged listings are followed on its own origin only and never forever: a next link
// to another host is not followed (and that host never asked), a page sent again as the next one
// ends the listing with an error, and so does a listing past the entry cap.

import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseSyncRegistries } from '../../src/config/sync.js'
import { Upstream, UpstreamError } from '../../src/sync/upstream.js'
import type { Teardown } from '../system.js'

async function listen(t: Teardown, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

function upstream(port: number): Upstream {
  const [config] = parseSyncRegistries('sync.registries', [{ url: `http://127.0.0.1:${port}`, api: 'v1' }])
  return new Upstream(config!, 4 * 1024 * 1024)
}

t.test('a next link to another origin is not followed', async (t) => {
  let elsewhere = 0
  const otherPort = await listen(t, (_req, res) => {
    elsewhere++
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"repositories":["stolen"]}')
  })
  const port = await listen(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', link: `<//localhost:${otherPort}/v1/_catalog?last=a>; rel="next"` })
    res.end('{"repositories":["hellouniverse"]}')
  })
  t.same(await upstream(port).packs(), ['hellouniverse'], 'the first page only')
  t.equal(elsewhere, 0, 'the other host is never asked')
})

t.test('a page sent again as the next one ends the listing with an error', async (t) => {
  let asked = 0
  const port = await listen(t, (req, res) => {
    asked++
    const next = req.url?.includes('last=a') ? '/v1/_catalog?n=1000' : '/v1/_catalog?n=1000&last=a'
    res.writeHead(200, { 'content-type': 'application/json', link: `<${next}>; rel="next"` })
    res.end('{"repositories":["hellouniverse"]}')
  })
  const err = await upstream(port).packs().catch((e: unknown) => e)
  t.ok(err instanceof UpstreamError, 'an upstream error')
  t.match((err as UpstreamError).message, /sends \/v1\/_catalog\?n=1000 again as the next page/)
  t.equal((err as UpstreamError).transient, false, 'not retried')
  t.equal(asked, 2, 'after the two distinct pages')
})

t.test('a listing past 100,000 entries ends with an error', async (t) => {
  const page = JSON.stringify({ name: 'hellouniverse', tags: Array.from({ length: 30_000 }, (_, i) => `1.0.${i}`) })
  let asked = 0
  const port = await listen(t, (_req, res) => {
    asked++
    res.writeHead(200, { 'content-type': 'application/json', link: `</v1/hellouniverse/tags/list?n=1000&last=p${asked}>; rel="next"` })
    res.end(page)
  })
  const err = await upstream(port).tags('hellouniverse').catch((e: unknown) => e)
  t.ok(err instanceof UpstreamError)
  t.match((err as UpstreamError).message, /more than 100000 entries/)
  t.equal((err as UpstreamError).transient, false)
  t.equal(asked, 4, 'stops at the page that crosses the cap')
})
