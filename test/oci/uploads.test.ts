// Purging abandoned uploads: sessions idle past the configured age lose their row and their
// bytes, stray temp files go too, and work in progress is left alone; the app runs the purge
// on a timer.

import t from 'tap'
import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ADMIN, testApp } from '../helpers.js'
import { errorCode, OCTET } from '../http/v2-helpers.js'

const auth = { authorization: ADMIN }

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
  app.registry.db.prepare('UPDATE upload_sessions SET updated_at = ? WHERE id = ?').run(Date.now() - 2 * hour, abandonedId)
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
  app.registry.db.prepare('UPDATE upload_sessions SET updated_at = ? WHERE id = ?').run(Date.now() - 7200_000, id)
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
