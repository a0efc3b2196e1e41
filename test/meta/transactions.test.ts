// Every write is an immediate transaction: the write lock is taken at BEGIN, so a transaction
// that reads first and writes later can never fail half-way with SQLITE_BUSY when another
// process (a `packyard garbage-collect`) holds the lock; it waits its turn (busy_timeout).

import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { sha256Digest } from '../../src/store/digest.js'
import { ADMIN, testApp } from '../helpers.js'
import { archive, packFiles, push, uploadBlob } from '../pack-fixtures.js'

/** Another process holding the database's write lock for `ms`; resolves once it holds it. */
async function holdWriteLock(dbFile: string, ms: number): Promise<{ released: Promise<void> }> {
  const script = `
    const Database = require(${JSON.stringify(join(PACKAGE_ROOT, 'node_modules', 'better-sqlite3'))})
    const db = new Database(${JSON.stringify(dbFile)})
    db.pragma('busy_timeout = 5000')
    db.exec('BEGIN IMMEDIATE')
    db.prepare("INSERT INTO blobs (digest, size, created_at) VALUES ('sha256:' || hex(randomblob(32)), 0, 0)").run()
    process.stdout.write('locked\\n')
    setTimeout(() => { db.exec('COMMIT'); db.close() }, ${ms})`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)))
  })
  // Wrapped: an async function returning a bare promise would make the caller wait for it.
  return { released: new Promise((resolve) => child.on('exit', () => resolve())) }
}

t.test('reads-then-writes wait for another process holding the write lock, and succeed', async (t) => {
  const app = await testApp(t)
  const dbFile = join(app.registry.config.storage.rootdirectory, 'registry.db')
  t.equal((await uploadBlob(app, 'images/source', Buffer.from('layer'))).statusCode, 201)
  const tgz = await archive(packFiles())

  const { released } = await holdWriteLock(dbFile, 400)
  const started = Date.now()
  const mount = await app.inject({
    method: 'POST',
    url: `/v2/images/target/blobs/uploads/?mount=${sha256Digest('layer')}&from=images/source`,
    headers: { authorization: ADMIN },
  })
  t.equal(mount.statusCode, 201, 'a mount (a read, then a write) waited for the lock and linked the blob')
  t.ok(Date.now() - started >= 300, `it really waited for the other process (${Date.now() - started} ms)`)
  await released

  const second = await holdWriteLock(dbFile, 300)
  t.equal((await push(app, tgz)).statusCode, 201, 'a publish commits after the other process lets go')
  await second.released
})
