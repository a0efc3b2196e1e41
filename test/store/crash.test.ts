// SIGKILL during a blob write: after a restart no partial blob is visible and the database
// opens cleanly. The writer is a real child process streaming into the filesystem store.

import t from 'tap'
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteDatabase } from '../../src/meta/sqlite.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { FilesystemBlobStore } from '../../src/store/fs.js'
import { tempDir } from '../helpers.js'

const WRITER = `
const { FilesystemBlobStore } = require(${JSON.stringify(join(PACKAGE_ROOT, 'dist/src/store/fs.js'))})
const { openDatabase } = require(${JSON.stringify(join(PACKAGE_ROOT, 'dist/src/meta/db.js'))})
const { Readable } = require('node:stream')
const root = process.argv[1]
openDatabase({ kind: 'sqlite', path: root + '/registry.db' }).then(async (db) => {
  await db.prepare("INSERT INTO events (at, actor, action, repository) VALUES (1, 'admin', 'push', 'x')").run()
  const store = new FilesystemBlobStore(root)
  let sent = 0
  const endless = new Readable({ read() {
    sent += 65536
    if (sent === 65536 * 32) process.stdout.write('writing\\n')
    setTimeout(() => this.push(Buffer.alloc(65536, 1)), 1)
  } })
  await store.init()
  await store.stage(endless)
})
`

t.test('SIGKILL mid-write leaves no visible blob and a clean database', async (t) => {
  const root = join(tempDir(t), 'root')
  const child = spawn(process.execPath, ['-e', WRITER, root], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('writing') && resolve()))
  t.ok(readdirSync(join(root, 'uploads')).length > 0, 'the write was in progress')
  child.kill('SIGKILL')
  await new Promise((r) => child.on('close', r))

  const store = new FilesystemBlobStore(root)
  await store.init()
  const blobs = []
  for await (const b of store.list()) blobs.push(b)
  t.same(blobs, [], 'no partial blob is visible')
  const db = await SqliteDatabase.open(join(root, 'registry.db'))
  t.teardown(() => db.close())
  t.equal(db.raw.pragma('integrity_check', { simple: true }), 'ok')
  t.equal(((await db.prepare('SELECT COUNT(*) AS n FROM events').get()) as { n: number }).n, 1, 'committed rows survive')
})
