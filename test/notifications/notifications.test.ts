// Notifications against a real receiver (a node:http server recording what it is sent): the
// envelope field by field for a push, a pull, a delete and a cross-repository mount, the pack
// object of a /v1/_packs push and of a pack pushed as oras does, the manifest delete of a version
// a forced push or a tag delete left untagged, the parent tags a tag or version delete moved back,
// the CloudEvents form, delivery
// in order through a receiver that fails and then is down, a restart between acknowledgement and
// delivery, a receiver that hangs without holding back pushes, retention by age and by number,
// an endpoint added later, endpoints removed from the config (their places and kept events go at
// start), and the registry page.

import t, { type Test } from 'tap'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { buildApp } from '../../src/app.js'
import type { SqliteDatabase } from '../../src/meta/sqlite.js'
import type { DistributionEvent } from '../../src/notifications/events.js'
import { ADMIN, captureStream, tempDir, testConfig } from '../helpers.js'
import { archive, get, orasPush, packFiles, push } from '../pack-fixtures.js'
import { makeImage, OCTET, pushImage } from '../http/v2-helpers.js'

interface Received {
  headers: IncomingHttpHeaders
  body: unknown
}

/** A receiver: `answer` decides each request's status (null: never answer). */
class Receiver {
  readonly requests: Received[] = []
  answer: () => number | null = () => 200
  private server: Server | null = null
  port = 0

  async start(t: Test, port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const status = this.answer()
        if (status === null) return
        if (status < 300) this.requests.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
        res.writeHead(status).end()
      })
    })
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    t.teardown(() => this.stop())
  }

  async stop(): Promise<void> {
    const server = this.server
    this.server = null
    if (!server) return
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`
  }

  /** Every event accepted, in the order received. */
  events(): DistributionEvent[] {
    return this.requests.flatMap((r) => (r.body as { events: DistributionEvent[] }).events)
  }

  async waitFor(count: number, ms = 10_000): Promise<DistributionEvent[]> {
    const until = Date.now() + ms
    while (this.events().length < count) {
      if (Date.now() > until) throw new Error(`${this.events().length} events received, waited for ${count}`)
      await new Promise((r) => setTimeout(r, 10))
    }
    return this.events()
  }
}

function endpoint(receiver: Receiver, extra: Record<string, unknown> = {}) {
  return { notifications: { endpoints: [{ name: 'ci', url: receiver.url, timeout: '2s', backoff: '50ms', threshold: 3, headers: { Authorization: ['Bearer hook'] }, ...extra }] } }
}

async function app(t: Test, doc: Record<string, unknown>): Promise<FastifyInstance> {
  const a = await buildApp(testConfig(t, doc, { storage: 'filesystem' }))
  t.teardown(() => a.close())
  return a
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

t.test("distribution's envelope: push, pull, delete and mount, field by field", async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  const registry = await app(t, { ...endpoint(receiver), notifications: { ...endpoint(receiver).notifications, events: { includereferences: true } } })
  const image = makeImage('one')
  await pushImage(t, registry, 'images/app', image, 'latest')
  const pulled = await registry.inject({ url: '/v2/images/app/manifests/latest', headers: { authorization: ADMIN, 'user-agent': 'docker/27' } })
  t.equal(pulled.statusCode, 200)
  const mounted = await registry.inject({ method: 'POST', url: `/v2/images/copy/blobs/uploads/?mount=${image.layers.length > 0 ? digestOfLayer(image) : ''}&from=images/app`, headers: { authorization: ADMIN } })
  t.equal(mounted.statusCode, 201)
  t.equal((await registry.inject({ method: 'DELETE', url: `/v2/images/app/manifests/${image.digest}`, headers: { authorization: ADMIN } })).statusCode, 202)

  // A pull is written with the others of its 50 ms, so it may come after a later change.
  const received = await receiver.waitFor(4)
  const [push_, pull, mount, del] = ['push', 'pull', 'mount', 'delete'].map((a) => received.find((e) => e.action === a))
  t.same(received.filter((e) => e.action !== 'pull').map((e) => e.action), ['push', 'mount', 'delete'], 'changes in order')
  const first = receiver.requests[0] as Received
  t.equal(first.headers['content-type'], 'application/vnd.docker.distribution.events.v1+json')
  t.equal(first.headers.authorization, 'Bearer hook', 'the endpoint headers are sent')
  t.same(Object.keys(first.body as object), ['events'])

  t.match(push_, {
    id: UUID,
    timestamp: TIME,
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: image.manifest.length,
      digest: image.digest,
      length: image.manifest.length,
      repository: 'images/app',
      url: `http://localhost:80/v2/images/app/manifests/${image.digest}`,
      tag: 'latest',
    },
    request: { id: UUID, addr: '127.0.0.1', host: 'localhost:80', method: 'PUT' },
    actor: { name: 'admin' },
    source: { addr: /:\d+$/, instanceID: UUID },
  })
  t.equal(push_?.target.references?.length, 3, 'includereferences: the config and both layers')
  const m = JSON.parse(image.manifest.toString('utf8')) as { config: { mediaType: string; digest: string; size: number }; layers: Array<{ mediaType: string; digest: string; size: number }> }
  t.same(
    push_?.target.references,
    [m.config, ...m.layers].map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    'references are descriptors (distribution.Descriptor), not bare digests',
  )
  t.notOk(push_?.pack, 'no pack object on an image')
  t.match(pull, { action: 'pull', target: { digest: image.digest, tag: 'latest', repository: 'images/app', size: image.manifest.length }, request: { method: 'GET', useragent: 'docker/27' }, actor: { name: 'admin' } })
  t.match(mount, {
    action: 'mount',
    target: { mediaType: OCTET, digest: digestOfLayer(image), repository: 'images/copy', fromRepository: 'images/app', url: `http://localhost:80/v2/images/copy/blobs/${digestOfLayer(image)}` },
    request: { method: 'POST' },
  })
  t.match(del, { action: 'delete', target: { digest: image.digest, repository: 'images/app' }, request: { method: 'DELETE' } })
  const ids = receiver.events().map((e) => e.id)
  t.equal(new Set(ids).size, ids.length, 'every event has its own id')
  t.equal(new Set(receiver.events().map((e) => e.source.instanceID)).size, 1, 'one instance')
})

function digestOfLayer(image: ReturnType<typeof makeImage>): string {
  const m = JSON.parse(image.manifest.toString('utf8')) as { layers: Array<{ digest: string }> }
  return (m.layers[0] as { digest: string }).digest
}

t.test('a pack pushed over /v1/_packs: the manifest event a distribution push would send, with the pack object', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  const registry = await app(t, endpoint(receiver))
  const first = await push(registry, await archive(packFiles()))
  t.equal(first.statusCode, 201)
  const forced = await push(registry, await archive(packFiles({}, { 'values.yaml': 'replicas: 2\n' })), { force: 'true', message: 'two replicas' })
  t.equal(forced.statusCode, 200)
  const tagged = await registry.inject({ method: 'PUT', url: '/v1/_packs/hellouniverse/_tags/stable', headers: { authorization: ADMIN }, payload: { ref: '1.0.0' } })
  t.equal(tagged.statusCode, 201)
  t.equal((await registry.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.0.0', headers: { authorization: ADMIN } })).statusCode, 200)
  const events = await receiver.waitFor(5)
  t.same(events.map((e) => [e.action, e.target.repository, e.target.tag ?? null]), [
    ['push', 'spectro-packs/archive/hellouniverse', '1.0.0'],
    ['push', 'spectro-packs/archive/hellouniverse', '1.0.0'],
    ['delete', 'spectro-packs/archive/hellouniverse', null],
    ['push', 'spectro-packs/archive/hellouniverse', 'stable'],
    ['delete', 'spectro-packs/archive/hellouniverse', null],
  ])
  const body = first.json() as { manifestDigest: string; parentTagsMoved: unknown[] }
  t.match(events[0], {
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: body.manifestDigest, url: `http://localhost:80/v2/spectro-packs/archive/hellouniverse/manifests/${body.manifestDigest}` },
    request: { method: 'POST' },
    pack: { name: 'hellouniverse', version: '1.0.0', tag: '1.0.0', group: null, forced: false, message: null, warnings: [] },
  })
  t.same(events[0]?.pack?.parentTags, body.parentTagsMoved, 'the parent tags the push moved')
  t.ok((events[0]?.pack?.parentTags.length ?? 0) > 0, 'a first version creates its parent tags')
  t.match(events[1]?.pack, { forced: true, message: 'two replicas' })
  t.equal(events[1]?.target.digest, forced.json().manifestDigest)
  t.same(events[2]?.target, { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: events[0]?.target.size, digest: body.manifestDigest, length: events[0]?.target.size, repository: 'spectro-packs/archive/hellouniverse', url: events[0]?.target.url }, 'the version the forced push left untagged is deleted: a manifest delete, no tag')
  t.notOk(events[2]?.pack)
  t.match(events[4], { target: { digest: forced.json().manifestDigest }, pack: { name: 'hellouniverse', version: '1.0.0' } })
})

t.test('a tag delete that leaves a version untagged: the tag delete with the parent tags it moved, then the manifest delete', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  const registry = await app(t, endpoint(receiver))
  const one = await push(registry, await archive(packFiles()))
  const two = await push(registry, await archive(packFiles({ version: '1.1.0' })))
  t.equal(two.statusCode, 201)
  const deleted = await registry.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/_tags/1.1.0', headers: { authorization: ADMIN } })
  t.equal(deleted.statusCode, 200)
  t.equal((await registry.inject({ url: '/v1/_packs/hellouniverse/1.1.0', headers: { authorization: ADMIN } })).statusCode, 404, 'the untagged version is gone')
  const events = await receiver.waitFor(4)
  t.same(events.map((e) => [e.action, e.target.digest, e.target.tag ?? null]), [
    ['push', one.json().manifestDigest, '1.0.0'],
    ['push', two.json().manifestDigest, '1.1.0'],
    ['delete', two.json().manifestDigest, '1.1.0'],
    ['delete', two.json().manifestDigest, null],
  ])
  t.match(events[2]?.pack, { name: 'hellouniverse', version: '1.1.0', tag: '1.1.0', forced: false })
  // 1.1.x, which only 1.1.0 was on, is deleted: a move has somewhere to go, so it is not listed.
  t.same(events[2]?.pack?.parentTags, [{ tag: '1.x', from: '1.1.0', to: '1.0.0' }], 'the tag delete moved 1.x back')
  t.notOk(events[3]?.pack, 'the manifest delete is distribution\'s, without a pack object')
  t.equal(events[3]?.target.mediaType, 'application/vnd.oci.image.manifest.v1+json')
  t.equal(events[3]?.target.repository, 'spectro-packs/archive/hellouniverse')
})

t.test('a version delete: the delete event carries the parent tags that moved back', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  const registry = await app(t, endpoint(receiver))
  await push(registry, await archive(packFiles()))
  const two = await push(registry, await archive(packFiles({ version: '1.1.0' })))
  t.equal((await registry.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.1.0', headers: { authorization: ADMIN } })).statusCode, 200)
  const events = await receiver.waitFor(3)
  t.same(events.map((e) => [e.action, e.target.tag ?? null]), [['push', '1.0.0'], ['push', '1.1.0'], ['delete', null]])
  t.match(events[2], { target: { digest: two.json().manifestDigest }, pack: { name: 'hellouniverse', version: '1.1.0', tag: '1.1.0' } })
  t.same(events[2]?.pack?.parentTags, [{ tag: '1.x', from: '1.1.0', to: '1.0.0' }], '1.x moves back to 1.0.0 (1.1.x, empty, is deleted)')
})

t.test('a pack pushed over the distribution API (as oras pushes it): the same event, pack object included', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  const registry = await app(t, endpoint(receiver))
  const tgz = await archive(packFiles({ name: 'ubuntu', version: '22.04' }))
  const res = await orasPush(registry, 'spectro-packs/archive/ubuntu', '22.04', tgz, 'ubuntu-22.04.tar.gz')
  t.equal(res.statusCode, 201)
  const [event] = await receiver.waitFor(1)
  t.match(event, {
    action: 'push',
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: res.headers['docker-content-digest'], repository: 'spectro-packs/archive/ubuntu', tag: '22.04' },
    request: { method: 'PUT' },
    pack: { name: 'ubuntu', version: '22.04', tag: '22.04', forced: false },
  })
})

t.test('every acknowledged manifest PUT has its push event, an unchanged pack or artifact pushed again too', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  const registry = await app(t, endpoint(receiver))
  const tgz = await archive(packFiles({ name: 'ubuntu', version: '22.04' }))
  for (let i = 0; i < 2; i++) t.equal((await orasPush(registry, 'spectro-packs/archive/ubuntu', '22.04', tgz, 'ubuntu-22.04.tar.gz')).statusCode, 201)
  const sbom = makeImage('sbom', 1)
  await pushImage(t, registry, 'spectro-packs/archive/ubuntu', sbom, 'sbom')
  await pushImage(t, registry, 'spectro-packs/archive/ubuntu', sbom, 'sbom')
  await pushImage(t, registry, 'spectro-packs/archive/ubuntu', sbom)
  const events = await receiver.waitFor(5)
  t.same(
    events.map((e) => [e.action, e.target.tag ?? null, e.pack?.version ?? null]),
    [
      ['push', '22.04', '22.04'],
      ['push', '22.04', '22.04'],
      ['push', 'sbom', null],
      ['push', 'sbom', null],
      ['push', null, null],
    ],
  )
  t.equal(events[1]?.target.digest, events[0]?.target.digest, 'the same pack manifest')
  t.match(events[1]?.pack, { parentTags: [], forced: false }, 'an unchanged push moves nothing')
  t.same([events[2], events[3], events[4]].map((e) => e?.target.digest), [sbom.digest, sbom.digest, sbom.digest])
})

t.test('a pack pushed over /v2 by an alias tag: target.tag is the pushed tag, pack.tag the version tag', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  const registry = await app(t, endpoint(receiver))
  const tgz = await archive(packFiles({ name: 'ubuntu', version: '22.04' }))
  for (let i = 0; i < 2; i++) t.equal((await orasPush(registry, 'spectro-packs/archive/ubuntu', 'latest', tgz, 'ubuntu-22.04.tar.gz')).statusCode, 201)
  const events = await receiver.waitFor(2)
  t.same(
    events.map((e) => [e.target.tag, e.pack?.tag]),
    [
      ['latest', '22.04'],
      ['latest', '22.04'],
    ],
    'the first push and the unchanged one again',
  )
})

t.test('format: cloudevents carries the same event as CloudEvents 1.0 structured JSON; ignore.actions drops pulls', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  const registry = await app(t, endpoint(receiver, { format: 'cloudevents', ignore: { actions: ['pull'] } }))
  await pushImage(t, registry, 'images/app', makeImage('two'), 'v1')
  t.equal((await get(registry, '/v2/images/app/manifests/v1')).statusCode, 200)
  await pushImage(t, registry, 'images/app', makeImage('three'), 'v2')
  const until = Date.now() + 10_000
  while (receiver.requests.flatMap((r) => r.body as unknown[]).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
  t.equal(receiver.requests[0]?.headers['content-type'], 'application/cloudevents-batch+json')
  const sent = receiver.requests.flatMap((r) => r.body as Array<Record<string, unknown>>)
  t.same(sent.map((e) => (e.data as DistributionEvent).target.tag), ['v1', 'v2'], 'no pull')
  t.match(sent[0], { specversion: '1.0', id: UUID, type: 'io.packyard.registry.push', source: /^packyard:\/\//, time: TIME, datacontenttype: 'application/json', subject: /^images\/app:v1@sha256:/ })
  t.equal(sent[0]?.id, (sent[0]?.data as DistributionEvent).id)
})

t.test('a receiver that fails, then is down, then accepts: every event arrives, in order, none missing', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  const port = receiver.port
  const registry = await app(t, endpoint(receiver))
  receiver.answer = () => 500
  const pushed: string[] = []
  for (let i = 0; i < 5; i++) {
    const image = makeImage(`fail-${i}`, 1)
    await pushImage(t, registry, 'images/app', image, `t${i}`)
    pushed.push(image.digest)
  }
  const until = Date.now() + 10_000
  while ((await registry.registry.notifications?.status())?.[0]?.state !== 'failing' && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
  const failing = (await registry.registry.notifications?.status())?.[0]
  t.ok((failing?.failedAttempts ?? 0) >= 3, `failed attempts counted (${failing?.failedAttempts})`)
  t.equal(failing?.state, 'failing', 'threshold consecutive failures: failing')
  t.equal(failing?.pending, 5)
  await receiver.stop()
  for (let i = 5; i < 10; i++) {
    const image = makeImage(`fail-${i}`, 1)
    await pushImage(t, registry, 'images/app', image, `t${i}`)
    pushed.push(image.digest)
  }
  const metrics = await registry.inject({ url: '/metrics', headers: { authorization: ADMIN } })
  t.match(metrics.body, /packyard_notification_pending\{endpoint="ci"\} 10/)
  t.match(metrics.body, /packyard_notification_failing\{endpoint="ci"\} 1/)
  t.match(metrics.body, /packyard_notification_failed_attempts_total\{endpoint="ci"\} [1-9]/)
  const accepting = new Receiver()
  await accepting.start(t, port)
  t.ok(registry.registry.notifications?.retry('ci'))
  const events = await accepting.waitFor(10)
  t.same(events.map((e) => e.target.digest), pushed, 'in order, none missing')
  t.same(events.map((e) => e.target.tag), pushed.map((_, i) => `t${i}`))
  const after = (await registry.registry.notifications?.status())?.[0]
  t.match(after, { state: 'idle', pending: 0, delivered: 10, consecutiveFailures: 0, dropped: 0 })
  const scraped = await registry.inject({ url: '/metrics', headers: { authorization: ADMIN } })
  t.match(scraped.body, /packyard_notification_delivered_total\{endpoint="ci"\} 10/)
  t.match(scraped.body, /packyard_notification_delivery_seconds_count\{endpoint="ci"\} 10/)
})

t.test('a restart between acknowledgement and delivery: the new process sends the event', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  receiver.answer = () => null
  const root = join(tempDir(t), 'data')
  const doc = { ...endpoint(receiver, { timeout: '200ms' }), storage: { filesystem: { rootdirectory: root } } }
  const first = await app(t, doc)
  const image = makeImage('restart', 1)
  await pushImage(t, first, 'images/app', image, 'v1')
  await first.close()
  t.same(receiver.events(), [], 'nothing was accepted before the restart')
  receiver.answer = () => 200
  const second = await app(t, doc)
  const [event] = await receiver.waitFor(1)
  t.match(event, { action: 'push', target: { digest: image.digest, tag: 'v1' } })
  t.not(event?.source.instanceID, second.registry.notifications?.recorder.instanceID, 'recorded by the first instance, sent by the second')
})

t.test('a receiver that never answers does not slow pushes', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  receiver.answer = () => null
  const timePushes = async (registry: FastifyInstance, seed: string) => {
    const started = process.hrtime.bigint()
    for (let i = 0; i < 10; i++) await pushImage(t, registry, 'images/app', makeImage(`${seed}-${i}`, 1), `t${i}`)
    return Number(process.hrtime.bigint() - started) / 1e6
  }
  const without = await timePushes(await app(t, {}), 'plain')
  const hanging = await app(t, endpoint(receiver, { timeout: '30s' }))
  const withHanging = await timePushes(hanging, 'hang')
  t.ok(withHanging < without * 2 + 500, `10 pushes: ${withHanging.toFixed(0)} ms with a receiver that hangs for 30s, ${without.toFixed(0)} ms without an endpoint`)
  t.match((await hanging.registry.notifications?.status())?.[0], { state: 'delivering', pending: 10, delivered: 0 })
})

t.test('retention: events past maxevents or maxage are dropped and counted', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  receiver.answer = () => 500
  const registry = await app(t, { ...endpoint(receiver, { backoff: '100ms' }), notifications: { ...endpoint(receiver, { backoff: '100ms' }).notifications, retention: { maxevents: 2 } } })
  const pushed: string[] = []
  for (let i = 0; i < 4; i++) {
    const image = makeImage(`keep-${i}`, 1)
    await pushImage(t, registry, 'images/app', image, `t${i}`)
    pushed.push(image.digest)
  }
  receiver.answer = () => 200
  registry.registry.notifications?.retry('ci')
  const events = await receiver.waitFor(2)
  await new Promise((r) => setTimeout(r, 200))
  const delivered = events.map((e) => e.target.digest)
  t.same(delivered.slice(-2), pushed.slice(-2), 'the newest two arrive')
  t.ok(delivered.length < 4, 'the oldest went past maxevents')
  t.equal((await registry.registry.notifications?.status())?.[0]?.dropped, 4 - delivered.length, 'each drop counted')
})

t.test('retention: an event older than maxage is dropped, counted, and later ones still arrive', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  receiver.answer = () => 500
  const doc = endpoint(receiver, { backoff: '10s' })
  const registry = await app(t, { notifications: { ...doc.notifications, retention: { maxage: '200ms' } } })
  await pushImage(t, registry, 'images/app', makeImage('too-old', 1), 'old')
  await new Promise((r) => setTimeout(r, 400))
  receiver.answer = () => 200
  const fresh = makeImage('fresh', 1)
  await pushImage(t, registry, 'images/app', fresh, 'fresh')
  registry.registry.notifications?.retry('ci')
  const [event] = await receiver.waitFor(1)
  t.equal(event?.target.digest, fresh.digest)
  t.match((await registry.registry.notifications?.status())?.[0], { dropped: 1, delivered: 1, pending: 0 })
})

/** `n` more rows like the outbox's first one (its event pretending to be `action`), written now. */
async function backlog(registry: FastifyInstance, n: number, action = 'push'): Promise<void> {
  await registry.registry.db
    .prepare(
      `WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < ?)
       INSERT INTO notification_outbox (at, action, media_type, event)
       SELECT ?, ?, o.media_type, json_set(o.event, '$.action', ?) FROM i, notification_outbox o WHERE o.seq = (SELECT MIN(seq) FROM notification_outbox)`,
    )
    .run(n, Date.now(), action, action)
}

/** The SQL every statement on `registry`'s database (SQLite, through better-sqlite3) runs while `during` goes. */
async function statementsRun(registry: FastifyInstance, during: () => Promise<void>): Promise<string[]> {
  const proto = Object.getPrototypeOf((registry.registry.db as SqliteDatabase).raw.prepare('SELECT 1')) as Record<'get' | 'all' | 'iterate' | 'run', (...a: unknown[]) => unknown>
  const seen: string[] = []
  const originals = { get: proto.get, all: proto.all, iterate: proto.iterate, run: proto.run }
  for (const name of ['get', 'all', 'iterate', 'run'] as const) {
    const original = originals[name]
    proto[name] = function (this: { source: string }, ...args: unknown[]) {
      seen.push(this.source)
      return original.apply(this, args)
    }
  }
  try {
    await during()
  } finally {
    Object.assign(proto, originals)
  }
  return seen
}

t.test('a scrape of /metrics and the endpoint list never count the outbox, however long its backlog', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  receiver.answer = () => 500
  const registry = await app(t, endpoint(receiver, { backoff: '1h', threshold: 1 }))
  await pushImage(t, registry, 'images/app', makeImage('backlog', 1), 'v1')
  const until = Date.now() + 10_000
  while ((await registry.registry.notifications?.status())?.[0]?.state !== 'failing' && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
  await backlog(registry, 30_000)
  let scraped = ''
  let listed: Array<{ pending: number }> = []
  const sql = await statementsRun(registry, async () => {
    scraped = (await registry.inject({ url: '/metrics', headers: { authorization: ADMIN } })).body
    listed = (await registry.inject({ url: '/v1/_notifications', headers: { authorization: ADMIN } })).json().endpoints
  })
  t.match(scraped, /packyard_notification_pending\{endpoint="ci"\} 30001/)
  t.equal(listed[0]?.pending, 30_001)
  t.same(sql.filter((q) => /FROM notification_outbox/i.test(q)), [], 'no statement reads the outbox rows')
  t.ok(sql.some((q) => /sqlite_sequence/.test(q)), 'pending is the last seq less the place')
})

t.test('retention.maxevents over a backlog larger than one slice: exactly the oldest past it are dropped', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  receiver.answer = () => 500
  const doc = endpoint(receiver, { backoff: '10ms', threshold: 1 })
  const registry = await app(t, { notifications: { ...doc.notifications, retention: { maxevents: 25_000 } } })
  await pushImage(t, registry, 'images/app', makeImage('slices', 1), 'v1')
  await backlog(registry, 30_000)
  registry.registry.notifications?.retry('ci')
  const until = Date.now() + 20_000
  while (((await registry.registry.notifications?.status())?.[0]?.dropped ?? 0) < 5001 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  await new Promise((r) => setTimeout(r, 200))
  t.match((await registry.registry.notifications?.status())?.[0], { dropped: 5001, pending: 25_000 })
})

t.test("retention counts only what the endpoint would be sent: another endpoint's pulls never push out its pushes", async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  receiver.answer = () => 500
  const both = { url: receiver.url, backoff: '10ms', threshold: 1 }
  const registry = await app(t, { notifications: { endpoints: [{ name: 'ci', ...both, ignore: { actions: ['pull'] } }, { name: 'audit', ...both }], retention: { maxevents: 3 } } })
  const pushed: string[] = []
  for (let i = 0; i < 3; i++) {
    const image = makeImage(`mine-${i}`, 1)
    await pushImage(t, registry, 'images/app', image, `t${i}`)
    pushed.push(image.digest)
  }
  await backlog(registry, 20, 'pull')
  // A retry counts what was written since at once (else every 10 s).
  registry.registry.notifications?.retry('audit')
  registry.registry.notifications?.retry('ci')
  const status = async () => Object.fromEntries(((await registry.registry.notifications?.status()) ?? []).map((s) => [s.name, s]))
  const until = Date.now() + 10_000
  while (((await status()).audit?.dropped ?? 0) < 20 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.equal((await status()).audit?.dropped, 20, 'the endpoint taking pulls keeps its newest 3')
  t.equal((await status()).ci?.dropped, 0, 'the one ignoring pulls has 3 pushes waiting: none past maxevents')
  receiver.answer = () => 200
  registry.registry.notifications?.retry('ci')
  registry.registry.notifications?.retry('audit')
  await receiver.waitFor(6)
  await new Promise((r) => setTimeout(r, 200))
  const pushes = receiver.events().filter((e) => e.action === 'push').map((e) => e.target.digest)
  t.same(pushes, pushed, "ci's pushes all arrive")
  t.equal(receiver.events().length, 6, 'and audit its newest 3 (the pulls)')
})

t.test("a webhook URL's path and headers (its secret) are neither logged nor shown: the origin is", async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  receiver.answer = () => 500
  const secret = `http://127.0.0.1:${receiver.port}/hooks/T0K3N-s3cr3t`
  const log = captureStream()
  const registry = await buildApp(testConfig(t, { notifications: { endpoints: [{ name: 'ci', url: secret, backoff: '10ms', threshold: 2, headers: { Authorization: ['Bearer h3ad3r'] } }] } }, { storage: 'filesystem' }), { logger: pino({ level: 'info' }, log) })
  t.teardown(() => registry.close())
  await pushImage(t, registry, 'images/app', makeImage('secret', 1), 'v1')
  const until = Date.now() + 10_000
  while ((await registry.registry.notifications?.status())?.[0]?.state !== 'failing' && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
  const listed = await registry.inject({ url: '/v1/_notifications', headers: { authorization: ADMIN } })
  t.equal(listed.json().endpoints[0].url, `http://127.0.0.1:${receiver.port}`, 'GET /v1/_notifications shows the origin')
  const logged = log.text()
  t.match(logged, /delivery to ci failed/, 'failed attempts are logged')
  t.match(logged, /is failing/)
  t.match(logged, new RegExp(`"origin":"http://127.0.0.1:${receiver.port}"`), 'with the origin')
  for (const shown of [logged, listed.body]) {
    t.notMatch(shown, /T0K3N/, 'never the path')
    t.notMatch(shown, /h3ad3r/, 'never the headers')
  }
})

t.test("the registry page shows each endpoint's state; without endpoints, no such section", async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  receiver.answer = () => 503
  const registry = await app(t, { notifications: { endpoints: [{ name: 'ci', url: receiver.url, backoff: '1h', threshold: 1 }, { name: 'chat', url: receiver.url, disabled: true, format: 'cloudevents' }] } })
  await pushImage(t, registry, 'images/app', makeImage('page', 1), 'v1')
  const until = Date.now() + 5000
  while ((await registry.registry.notifications?.status())?.[1]?.state !== 'failing' && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
  const html = (await get(registry, '/registry')).body
  t.match(html, /<h2>Notifications<\/h2>/)
  t.match(html, /<td>chat <span class="muted">\(cloudevents\)<\/span><\/td>\s*<td><span class="badge">disabled<\/span><\/td>/)
  t.match(html, /<td>ci <span class="muted">\(distribution\)<\/span><\/td>\s*<td><span class="badge forced">failing<\/span> <span class="muted">next try <time[^>]*>[^<]+<\/time><\/span><\/td>\s*<td>1<\/td>\s*<td>0<\/td>\s*<td>1<\/td>\s*<td>0<\/td>\s*<td><\/td>\s*<td>HTTP 503<\/td>/)
  t.notMatch(html, new RegExp(receiver.url), 'the receiver URL is not shown')
  const plain = await app(t, {})
  t.notMatch((await get(plain, '/registry')).body, /<h2>Notifications<\/h2>/)
})

t.test('a new endpoint is sent what happens from its first start on; a restart resumes each where it was', async (t) => {
  const first = new Receiver()
  await first.start(t)
  const second = new Receiver()
  await second.start(t)
  const root = join(tempDir(t), 'data')
  const storage = { filesystem: { rootdirectory: root } }
  const one = await app(t, { storage, notifications: { endpoints: [{ name: 'a', url: first.url }] } })
  const before = makeImage('before', 1)
  await pushImage(t, one, 'images/app', before, 'before')
  await first.waitFor(1)
  // The receiver records a batch before it answers: closing before the answer arrived would send it again.
  while ((await one.registry.notifications?.status())?.[0]?.pending !== 0) await new Promise((r) => setTimeout(r, 10))
  await one.close()

  const two = await app(t, { storage, notifications: { endpoints: [{ name: 'a', url: first.url }, { name: 'b', url: second.url }] } })
  const after = makeImage('after', 1)
  await pushImage(t, two, 'images/app', after, 'after')
  t.same((await first.waitFor(2)).map((e) => e.target.digest), [before.digest, after.digest], 'a: nothing sent twice, nothing missed')
  t.same((await second.waitFor(1)).map((e) => e.target.digest), [after.digest], 'b: only what happened since it was added')
  await new Promise((r) => setTimeout(r, 100))
  t.equal(first.events().length, 2)
  t.equal(second.events().length, 1)
})

t.test('endpoints removed from the config: at start their places and the events kept for them go, and the log says so', async (t) => {
  const receiver = new Receiver()
  await receiver.start(t)
  receiver.answer = () => null
  const root = join(tempDir(t), 'data')
  const storage = { filesystem: { rootdirectory: root } }
  const count = async (a: FastifyInstance, table: string) => ((await a.registry.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get()) as { n: number }).n
  const both = { storage, notifications: { endpoints: [{ name: 'a', url: receiver.url, timeout: '200ms' }, { name: 'b', url: receiver.url, timeout: '200ms' }] } }
  const first = await app(t, both)
  await pushImage(t, first, 'images/app', makeImage('kept', 1), 'v1')
  await pushImage(t, first, 'images/app', makeImage('kept2', 1), 'v2')
  await first.close()

  // b removed: its place goes; the rows stay for a, which has not been sent them.
  const log = captureStream()
  const onlyA = await buildApp(testConfig(t, { storage, notifications: { endpoints: [{ name: 'a', url: receiver.url, timeout: '200ms' }] } }, { storage: 'filesystem' }), { logger: pino({ level: 'info' }, log) })
  t.same(((await onlyA.registry.db.prepare('SELECT name FROM notification_endpoints').all()) as Array<{ name: string }>).map((r) => r.name), ['a'])
  t.equal(await count(onlyA, 'notification_outbox'), 2, 'a still has both events to be sent')
  t.match(log.text(), /places of endpoints no longer configured \(b\)/)
  await onlyA.close()

  const quiet = captureStream()
  const none = await buildApp(testConfig(t, { storage }, { storage: 'filesystem' }), { logger: pino({ level: 'info' }, quiet) })
  t.teardown(() => none.close())
  t.equal(await count(none, 'notification_outbox'), 0, 'no endpoint: the kept events are dropped')
  t.equal(await count(none, 'notification_endpoints'), 0, 'and the places of the removed endpoints')
  t.match(quiet.text(), /dropped 2 event\(s\)/)
  t.match(quiet.text(), /\(a\)/)
  t.same(receiver.events(), [], 'nothing was delivered')
})
