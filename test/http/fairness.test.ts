// Reads must not starve writes (src/http/fairness.ts): the turn counting on its own, then the
// hooks on a real socket: while a write is in flight at most READS_WHILE_WRITING reads run, the
// rest wait in arrival order and all finish once turns free up; without a write nothing waits;
// health checks and HEADs never wait; a client that leaves while waiting frees its place and its
// handler never runs; the whole registry answers with the hooks installed.

import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { READ_SHARE_WHILE_WRITING, READS_WHILE_WRITING, ReadWriteTurns, shareLoopWithWrites } from '../../src/http/fairness.js'
import { ADMIN, testApp } from '../helpers.js'

const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

t.test('turns: reads start at once without a write, at most the limit with one, the rest in order', async (t) => {
  // A budget of a minute per window: these turns are counted, not timed.
  const turns = new ReadWriteTurns(2, 1, 60_000)
  const free = [turns.startRead(), turns.startRead(), turns.startRead()]
  t.same(free.map((r) => r.turn), [null, null, null], 'no write in flight: no read waits')
  for (const r of free) r.end()
  t.same(turns.inFlight, { reads: 0, writes: 0, waiting: 0 })

  const endWrite = turns.startWrite()
  const started: number[] = []
  const reads = [0, 1, 2, 3].map((i) => {
    const read = turns.startRead()
    if (read.turn) void read.turn.then(() => started.push(i))
    else started.push(i)
    return read
  })
  await tick()
  t.same(started, [0, 1], 'two run, two wait')
  t.same(turns.inFlight, { reads: 2, writes: 1, waiting: 2 })
  reads[0]?.end()
  reads[0]?.end()
  await tick()
  await tick()
  t.same(started, [0, 1, 2], 'a freed turn goes to the first waiting, once however often end is called')
  endWrite()
  await tick()
  await tick()
  t.same(started, [0, 1, 2, 3], 'the write ended: everything waiting starts')
  for (const r of reads) r.end()
  t.same(turns.inFlight, { reads: 0, writes: 0, waiting: 0 })
})

t.test('turns: a read abandoned while waiting takes no turn when its place comes', async (t) => {
  const turns = new ReadWriteTurns(1, 1, 60_000)
  const endWrite = turns.startWrite()
  const first = turns.startRead()
  const gone = turns.startRead()
  const third = turns.startRead()
  let thirdStarted = false
  void third.turn?.then(() => (thirdStarted = true))
  gone.end()
  first.end()
  await tick()
  await tick()
  t.ok(thirdStarted, 'the read behind the abandoned one has the turn')
  t.same(turns.inFlight, { reads: 1, writes: 1, waiting: 0 })
  await gone.turn
  third.end()
  endWrite()
  t.same(turns.inFlight, { reads: 0, writes: 0, waiting: 0 })
})

t.test('turns: under a write, reads that used their share of the window wait for the next one', async (t) => {
  const windowMs = 200
  const turns = new ReadWriteTurns(4, 0.25, windowMs)
  const endWrite = turns.startWrite()
  const slow = turns.startRead()
  t.equal(slow.turn, null, 'the window has its budget: the first read starts')
  await new Promise((resolve) => setTimeout(resolve, windowMs * 0.3))
  slow.end()
  const next = turns.startRead()
  t.not(next.turn, null, 'the read took more than its share: the next waits though turns are free')
  const asked = performance.now()
  await next.turn
  const waited = performance.now() - asked
  t.ok(waited >= windowMs * 0.5, `it starts with the next window (waited ${waited.toFixed(0)} ms)`)
  next.end()
  endWrite()
  const free = turns.startRead()
  t.equal(free.turn, null, 'no write in flight: no budget applies')
  free.end()
  t.ok(READ_SHARE_WHILE_WRITING > 0 && READ_SHARE_WHILE_WRITING < 1)
})

/** A bare server with the hooks: a POST held open until released, GETs that count how many run at once. */
async function heldServer(t: Test) {
  const turns = new ReadWriteTurns()
  // An aborted client leaves Node's server waiting seconds on close unless it ends every socket.
  const app = Fastify({ forceCloseConnections: true })
  shareLoopWithWrites(app, turns)
  let releaseWrite: () => void = () => {}
  const writeHeld = new Promise<void>((resolve) => (releaseWrite = resolve))
  let running = 0
  let most = 0
  let handled = 0
  app.post('/write', async () => {
    await writeHeld
    return { written: true }
  })
  app.get('/read', async (request) => {
    // Fastify answers HEAD from this route too; only the GETs are counted.
    if (request.method === 'HEAD') return { read: true }
    handled++
    most = Math.max(most, ++running)
    await new Promise((resolve) => setTimeout(resolve, 20))
    running--
    return { read: true }
  })
  app.get('/health', async () => ({ status: 'UP' }))
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { base, turns, releaseWrite, most: () => most, handled: () => handled }
}

t.test('over a socket: reads under a write run at most the limit at once, and all are answered', async (t) => {
  const server = await heldServer(t)
  const write = fetch(`${server.base}/write`, { method: 'POST', body: 'x' })
  while (server.turns.inFlight.writes === 0) await tick()
  const reads = Array.from({ length: 12 }, () => fetch(`${server.base}/read`).then((r) => r.status))
  const health = await fetch(`${server.base}/health`)
  t.equal(health.status, 200, 'a health check does not wait behind the reads')
  const head = await fetch(`${server.base}/read`, { method: 'HEAD' })
  t.equal(head.status, 200, 'a HEAD does not wait')
  const options = await fetch(`${server.base}/read`, { method: 'OPTIONS' })
  t.equal(options.status, 404, 'an OPTIONS is answered at once (no route here)')
  t.equal(server.turns.inFlight.writes, 1, 'and is not counted as a write')
  t.same(await Promise.all(reads), Array(12).fill(200), 'every read is answered while the write is still open')
  t.ok(server.most() <= READS_WHILE_WRITING, `at most ${READS_WHILE_WRITING} reads ran at once (${server.most()})`)
  server.releaseWrite()
  t.equal((await write).status, 200)
  t.same(server.turns.inFlight, { reads: 0, writes: 0, waiting: 0 })
})

t.test('over a socket: without a write, reads do not wait', async (t) => {
  const server = await heldServer(t)
  const reads = await Promise.all(Array.from({ length: 12 }, () => fetch(`${server.base}/read`).then((r) => r.status)))
  t.same(reads, Array(12).fill(200))
  t.ok(server.most() > READS_WHILE_WRITING, `more than ${READS_WHILE_WRITING} reads ran at once (${server.most()})`)
})

t.test('over a socket: a client that leaves while waiting frees its place; its handler never runs', async (t) => {
  const server = await heldServer(t)
  const write = fetch(`${server.base}/write`, { method: 'POST', body: 'x' })
  while (server.turns.inFlight.writes === 0) await tick()
  const held = Array.from({ length: READS_WHILE_WRITING }, () => fetch(`${server.base}/read`).then((r) => r.status))
  const leaving = new AbortController()
  const abandoned = fetch(`${server.base}/read`, { signal: leaving.signal }).catch((err: Error) => err.name)
  while (server.turns.inFlight.waiting === 0) await tick()
  leaving.abort()
  t.equal(await abandoned, 'AbortError')
  t.same(await Promise.all(held), Array(READS_WHILE_WRITING).fill(200))
  server.releaseWrite()
  await write
  for (let i = 0; i < 20 && server.turns.inFlight.waiting + server.turns.inFlight.reads > 0; i++) await new Promise((r) => setTimeout(r, 10))
  t.same(server.turns.inFlight, { reads: 0, writes: 0, waiting: 0 }, 'nothing is left counted')
  t.equal(server.handled(), READS_WHILE_WRITING, 'the abandoned read was never handled')
})

t.test('the registry answers reads, writes and errors with the turns installed', async (t) => {
  const app = await testApp(t)
  const health = await app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200)
  const refused = await app.inject({ method: 'PUT', url: '/v2/spectro-packs/archive/x/manifests/1.0.0', headers: { authorization: ADMIN, 'content-type': 'application/json' }, payload: '{' })
  t.equal(refused.statusCode, 400, 'a refused write is answered')
  const missing = await app.inject({ method: 'GET', url: '/v2/spectro-packs/archive/x/manifests/1.0.0', headers: { authorization: ADMIN } })
  t.equal(missing.statusCode, 404, 'a read after it is answered, not left waiting')
})
