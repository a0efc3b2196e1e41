// The embedded engine's own promises: the pragmas it sets, the registry's tables, and per-call
// bookkeeping that keeps no native memory. What both engines promise is test/meta/engines.test.ts.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { openDatabase } from '../../src/meta/db.js'
import { readMigrations } from '../../src/meta/migrations.js'
import { SqliteDatabase } from '../../src/meta/sqlite.js'
import { tempDir } from '../helpers.js'
import type { Teardown } from '../system.js'

async function openSqlite(t: Teardown, file: string): Promise<SqliteDatabase> {
  const db = await openDatabase({ kind: 'sqlite', path: file })
  t.teardown(() => db.close())
  if (!(db instanceof SqliteDatabase)) throw new Error('database.path opened something other than SQLite')
  return db
}

t.test('migrations create the whole data model, with the pragmas set', async (t) => {
  const db = await openSqlite(t, join(tempDir(t), 'registry.db'))
  const tables = (db.raw.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name)
  for (const name of ['repositories', 'blobs', 'repository_blobs', 'manifests', 'manifest_references', 'tags', 'pack_versions', 'upload_sessions', 'events', 'schema_migrations']) {
    t.ok(tables.includes(name), `table ${name}`)
  }
  t.equal(db.raw.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(db.raw.pragma('foreign_keys', { simple: true }), 1)
  t.equal(db.raw.pragma('synchronous', { simple: true }), 2, 'FULL')
  t.equal(db.raw.pragma('busy_timeout', { simple: true }), 5000)
  const versions = db.raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all()
  t.same(versions, readMigrations('sqlite').map((m) => ({ version: m.version })))
})

t.test('per-call bookkeeping keeps no native memory: non-durable writes and pings, 50,000 of each', async (t) => {
  // In a process of its own: tap tracks every promise of the test process with async hooks.
  const probe = spawnSync(process.execPath, [join(__dirname, 'sqlite-memory-probe.js'), tempDir(t)], { encoding: 'utf8' })
  t.equal(probe.status, 0, probe.stderr)
  const { grownMb, synchronous } = JSON.parse(probe.stdout) as { grownMb: number; synchronous: number }
  // A statement prepared per call (db.pragma, db.prepare) keeps about 5 KB each until the
  // database closes: 250 MB here. What is left is the pages of the rows themselves and garbage
  // V8 has not collected yet: 17 MB measured alone, more on a busy machine.
  t.ok(grownMb < 125, `resident memory grew ${grownMb.toFixed(0)} MB (a statement per call: 250 MB)`)
  t.equal(synchronous, 2, 'back to FULL after each')
})
