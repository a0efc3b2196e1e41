// Purging abandoned uploads: sessions idle past the configured age lose their row and their
// bytes, stray temp files go too, and work in progress is left alone; sessions that never
// received a byte go after a much shorter age; the app runs both purges on timers. And the cap
// on the sessions one user holds open (limits.uploadsessions).

import t from 'tap'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ADMIN, READER, testApp } from '../helpers.js'
import { errorCode, OCTET } from '../http/v2-helpers.js'

const auth = { authorization: ADMIN }
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`

async function abandonUpload(app: Awaited<ReturnType<typeof testApp>>, name: string): Promise<string> {
  const start = await app.inject({ method: 'POST', url: `/v2/${name}/blobs/uploads/`, headers: auth })
  const location = start.headers.location as string
  const patch = await app.inject({ method: 'PATCH', url: location, headers: { ...auth, 'content-type': OCTET, 'content-range': '0-9' }, payload: '0123456789' })
  if (patch.statusCode !== 202) throw new Error(`PATCH answered ${patch.statusCode}`)
  return location
}

function backdate(path: string, ms: number): void {
  const then = new Date(Date.now() - ms)
  utimesSync(path, then, then)
}

t.test('purge removes idle sessions and stray files, and keeps what is recent', async (t) => {
  const app = await testApp(t)
  const uploadsDir = join(app.registry.config.storage.rootdirectory, 'uploads')
  const hour = 3600_000
  const abandoned = await abandonUpload(app, 'a')
  const abandonedId = abandoned.split('/').pop() as string
  backdate(join(uploadsDir, abandonedId), 2 * hour)
  await app.registry.db.prepare('UPDATE upload_sessions SET updated_at = ? WHERE id = ?').run(Date.now() - 2 * hour, abandonedId)
  const active = await abandonUpload(app, 'a')

  const strayPut = join(uploadsDir, 'put-11111111-2222-4333-8444-555555555555')
  writeFileSync(strayPut, 'interrupted put')
  backdate(strayPut, 2 * hour)
  const freshPut = join(uploadsDir, 'put-66666666-2222-4333-8444-555555555555')
  writeFileSync(freshPut, 'a put in progress')
  const orphan = join(uploadsDir, '77777777-2222-4333-8444-555555555555')
  writeFileSync(orphan, 'a session file whose row is gone')
  backdate(orphan, 2 * hour)

  const result = await app.ociUploads.purge(hour)
  t.same(result.sessions, [abandonedId])
  t.same(result.files.sort(), ['77777777-2222-4333-8444-555555555555', 'put-11111111-2222-4333-8444-555555555555'])
  t.equal(result.bytes, '0123456789'.length + 'interrupted put'.length + 'a session file whose row is gone'.length, 'the bytes of all three')

  const gone = await app.inject({ url: abandoned, headers: auth })
  t.equal(gone.statusCode, 404)
  t.equal(errorCode(gone), 'BLOB_UPLOAD_UNKNOWN')
  t.equal((await app.inject({ url: active, headers: auth })).statusCode, 204, 'a recent session survives')
  t.equal(existsSync(freshPut), true, 'a recent temp file survives')
  t.same(readdirSync(uploadsDir).sort(), [active.split('/').pop(), 'put-66666666-2222-4333-8444-555555555555'].sort())
  t.same(await app.ociUploads.purge(hour), { sessions: [], files: [], bytes: 0 }, 'nothing left to purge')
})

t.test('a session whose row is old but whose file is being written is kept', async (t) => {
  const app = await testApp(t)
  const location = await abandonUpload(app, 'a')
  const id = location.split('/').pop() as string
  await app.registry.db.prepare('UPDATE upload_sessions SET updated_at = ? WHERE id = ?').run(Date.now() - 7200_000, id)
  t.same(await app.ociUploads.purge(3600_000), { sessions: [], files: [], bytes: 0 })
  t.equal((await app.inject({ url: location, headers: auth })).statusCode, 204)
})

t.test('in-memory storage purges the same way', async (t) => {
  const app = await testApp(t, {}, { storage: 'inmemory' })
  const location = await abandonUpload(app, 'a')
  t.same((await app.ociUploads.purge(3600_000)).sessions, [], 'not idle yet')
  const result = await app.ociUploads.purge(1000, Date.now() + 5000)
  t.same(result.sessions, [location.split('/').pop()])
  t.equal(errorCode(await app.inject({ url: location, headers: auth })), 'BLOB_UPLOAD_UNKNOWN')
})

t.test('the app purges on its own every interval', async (t) => {
  const app = await testApp(t, { storage: { maintenance: { uploadpurging: { age: '200ms', interval: '100ms' } } } })
  const uploadsDir = join(app.registry.config.storage.rootdirectory, 'uploads')
  const location = await abandonUpload(app, 'a')
  t.equal(readdirSync(uploadsDir).length, 1)
  const deadline = Date.now() + 5000
  while (readdirSync(uploadsDir).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  t.same(readdirSync(uploadsDir), [], 'the staged bytes are removed')
  t.equal(errorCode(await app.inject({ url: location, headers: auth })), 'BLOB_UPLOAD_UNKNOWN', 'the session is gone')
})

t.test('with purging disabled nothing is removed on its own', async (t) => {
  const app = await testApp(t, { storage: { maintenance: { uploadpurging: { enabled: false, age: '10ms', interval: '10ms' } } } })
  const location = await abandonUpload(app, 'a')
  await new Promise((r) => setTimeout(r, 300))
  t.equal((await app.inject({ url: location, headers: auth })).statusCode, 204)
})

t.test('limits.uploadsessions: a user past the cap gets 429 TOOMANYREQUESTS naming it; other users and finished sessions are unaffected', async (t) => {
  const app = await testApp(t, { limits: { uploadsessions: 3 }, auth: { access: { writers: ['admin', 'reader'] } } })
  const uploadsDir = join(app.registry.config.storage.rootdirectory, 'uploads')
  const start = (authorization: string, url = '/v2/a/blobs/uploads/') => app.inject({ method: 'POST', url, headers: { authorization } })
  const mine = [await start(ADMIN), await start(ADMIN), await start(ADMIN, '/v1/hello/blobs/uploads/')]
  t.same(mine.map((r) => r.statusCode), [202, 202, 202])
  const refused = await start(ADMIN)
  t.equal(refused.statusCode, 429)
  t.equal(errorCode(refused), 'TOOMANYREQUESTS')
  t.match(refused.json().errors[0], { message: /^user admin already has 3 upload sessions open, the most limits\.uploadsessions allows/, detail: { limit: 3, key: 'limits.uploadsessions' } })
  t.equal((await start(ADMIN, '/v1/hello/blobs/uploads/')).statusCode, 429, 'on /v1 as on /v2')
  t.equal(readdirSync(uploadsDir).length, 3, 'a refused session leaves no staged file')
  t.equal((await start(READER)).statusCode, 202, 'another user has a cap of its own')
  const data = Buffer.from('whole blob')
  t.equal((await app.inject({ method: 'POST', url: `/v2/a/blobs/uploads/?digest=${sha(data)}`, headers: { authorization: ADMIN, 'content-type': OCTET }, payload: data })).statusCode, 201, 'a monolithic upload opens no session')
  t.equal((await app.inject({ method: 'DELETE', url: mine[0]?.headers.location as string, headers: auth })).statusCode, 204)
  t.equal((await start(ADMIN)).statusCode, 202, 'a cancelled session frees its place')
  const finish = await app.inject({ method: 'PUT', url: `${mine[1]?.headers.location as string}?digest=${sha(data)}`, headers: { ...auth, 'content-type': OCTET }, payload: data })
  t.equal(finish.statusCode, 201)
  t.equal((await start(ADMIN)).statusCode, 202, 'so does a finished one')
})

t.test('the cap is counted from an index of the user\'s sessions, not by reading them all', async (t) => {
  const app = await testApp(t)
  const plan = (await app.registry.db.prepare('EXPLAIN QUERY PLAN SELECT COUNT(*) AS n FROM (SELECT 1 FROM upload_sessions WHERE owner = ? LIMIT ?) owned').all('admin', 100)) as Array<{ detail: string }>
  t.match(plan.map((p) => p.detail).join('\n'), /USING COVERING INDEX upload_sessions_owner \(owner=\?\)/)
  const insert = app.registry.db.prepare("INSERT INTO upload_sessions (id, repository, owner, size, started_at, updated_at) VALUES (?, 'a', 'someone-else', 0, 0, ?)")
  await app.registry.db.transaction(async () => {
    for (let i = 0; i < 5000; i++) await insert.run(`filler-${i}`, Date.now())
  })
  const res = await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/', headers: auth })
  t.equal(res.statusCode, 202, "another user's 5,000 open sessions do not count against admin")
})

t.test('sessions that never received a byte are purged after emptyage; ones with bytes wait for age', async (t) => {
  const app = await testApp(t)
  const minute = 60_000
  const emptyOld = (await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/', headers: auth })).headers.location as string
  const withBytes = await abandonUpload(app, 'a')
  const emptyOldId = emptyOld.split('/').pop() as string
  await app.registry.db.prepare('UPDATE upload_sessions SET updated_at = ?').run(Date.now() - 20 * minute)
  const emptyNew = (await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/', headers: auth })).headers.location as string
  t.same(await app.ociUploads.purgeEmpty(10 * minute), { sessions: [emptyOldId], files: [], bytes: 0 })
  t.equal(errorCode(await app.inject({ url: emptyOld, headers: auth })), 'BLOB_UPLOAD_UNKNOWN')
  t.equal((await app.inject({ url: withBytes, headers: auth })).statusCode, 204, 'a session holding bytes is kept')
  t.equal((await app.inject({ url: emptyNew, headers: auth })).statusCode, 204, 'a young empty session is kept')
  t.same(readdirSync(join(app.registry.config.storage.rootdirectory, 'uploads')).sort(), [withBytes, emptyNew].map((l) => l.split('/').pop()).sort())
})

t.test('the app purges empty sessions on a beat of its own, long before the idle age', async (t) => {
  const app = await testApp(t, { storage: { maintenance: { uploadpurging: { age: '24h', interval: '1h', emptyage: '300ms' } } } })
  const empty = (await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/', headers: auth })).headers.location as string
  const withBytes = await abandonUpload(app, 'a')
  const deadline = Date.now() + 5000
  while ((await app.inject({ url: empty, headers: auth })).statusCode === 204 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  t.equal(errorCode(await app.inject({ url: empty, headers: auth })), 'BLOB_UPLOAD_UNKNOWN', 'gone within a second or so')
  t.equal((await app.inject({ url: withBytes, headers: auth })).statusCode, 204)
})
