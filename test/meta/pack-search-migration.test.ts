// Migration 0012 on a registry written before it: the packs pushed then are searchable after
// the upgrade, READMEs included (read from the blob store at start-up, the first
// README_SEARCH_BYTES of each), a README lost from storage does not stop the start-up, and the
// next start-up has nothing left to do.

import { rmSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { readMigrations } from '../../src/meta/migrations.js'
import { SqliteDatabase } from '../../src/meta/sqlite.js'
import { README_SEARCH_BYTES } from '../../src/packs/search.js'
import { ADMIN, tempDir, testConfig } from '../helpers.js'
import { pushPack } from '../pack-fixtures.js'
import type { FastifyInstance } from 'fastify'

/** This test rewinds SQLite's schema by hand: the raw better-sqlite3 handle. */
function sqlite(app: FastifyInstance) {
  const db = app.registry.db
  if (!(db instanceof SqliteDatabase)) throw new Error('this test is about SQLite')
  return db.raw
}

async function found(app: FastifyInstance, q: string): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: `/?q=${encodeURIComponent(q)}`, headers: { authorization: ADMIN } })
  if (res.statusCode !== 200) throw new Error(`search ${q}: ${res.statusCode}`)
  return [...res.body.matchAll(/<code>([a-z0-9._-]+)<\/code>(?:<\/div>| ·)/g)].map((m) => m[1] as string)
}

/** What the migrations after 0012 add, dropped so that a rewind to schema 11 runs them again. */
const LATER_MIGRATIONS = `DROP TABLE notification_outbox; DROP TABLE notification_endpoints; DROP TABLE sync_origins; DROP INDEX events_sync_runs;
  DROP TABLE replicas; DROP TABLE login_failures; ALTER TABLE events DROP COLUMN replica; ALTER TABLE upload_sessions DROP COLUMN claimed_by;
  ALTER TABLE upload_sessions DROP COLUMN claimed_until`

t.test('a database from before 0012 is searchable after the upgrade, READMEs included', async (t) => {
  const config = testConfig(t, { storage: { filesystem: { rootdirectory: join(tempDir(t), 'data') } } })
  const before = await buildApp(config)
  await pushPack(before, { name: 'dns', version: '1.0.0', description: 'Cluster DNS' }, { 'README.md': 'Resolves service names with CoreDNS.' })
  await pushPack(before, { name: 'dns', version: '1.1.0', description: 'Cluster DNS' }, { 'README.md': 'Resolves service names with CoreDNS and caches them.' })
  await pushPack(before, { name: 'bare', version: '1.0.0', addonType: 'monitoring' })
  await pushPack(before, { name: 'long', version: '1.0.0' }, { 'README.md': `${'filler '.repeat(README_SEARCH_BYTES / 7)}beyondthecap` })
  // pack.json nested deeper than SQLite's JSON functions read: the migration's index must not fail on it.
  await pushPack(before, { name: 'deep', version: '1.0.0', extra: JSON.parse(`${'['.repeat(1100)}${']'.repeat(1100)}`) as unknown })
  // What schema 11 holds: the same pack tables, without what 0012 (and the later migrations) add.
  sqlite(before).exec(`DROP TABLE pack_search; DROP TABLE pack_readmes; DROP INDEX pack_versions_addon_type; DROP INDEX pack_versions_group;
    DELETE FROM schema_migrations WHERE version >= 12`)
  sqlite(before).exec(LATER_MIGRATIONS)
  await before.close()

  const after = await buildApp(config)
  t.teardown(() => after.close())
  const db = sqlite(after)
  t.equal(db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get(), readMigrations('sqlite').length, 'migrated')
  t.equal(db.prepare('SELECT COUNT(*) FROM pack_readmes').pluck().get(), 3, 'every README read, of every version')
  t.equal(db.prepare('SELECT COUNT(*) FROM pack_search').pluck().get(), 4, 'a row per pack')
  t.same(await found(after, 'deep'), ['deep'], 'the deeply nested pack too')
  t.same(await found(after, 'caches'), ['dns'], 'README text of the shown version')
  t.same(await found(after, 'cluster'), ['dns'], 'the description')
  t.same(await found(after, 'monitoring'), ['bare'], 'the addon type')
  t.same(await found(after, 'filler'), ['long'])
  t.same(await found(after, 'beyondthecap'), [], 'only the first README_SEARCH_BYTES of a README')
  const longText = db.prepare('SELECT text FROM pack_readmes ORDER BY length(text) DESC LIMIT 1').pluck().get() as string
  t.equal(Buffer.byteLength(longText), README_SEARCH_BYTES)

  // A change after the upgrade keeps the index as every write does.
  const del = await after.inject({ method: 'DELETE', url: '/v1/_packs/dns/1.1.0', headers: { authorization: ADMIN } })
  t.equal(del.statusCode, 200)
  t.same(await found(after, 'caches'), [], 'the older version, shown now, says no such thing')
  t.same(await found(after, 'coredns'), ['dns'])
})

t.test('a start-up with nothing to index changes nothing', async (t) => {
  const config = testConfig(t, { storage: { filesystem: { rootdirectory: join(tempDir(t), 'data') } } })
  const first = await buildApp(config)
  await pushPack(first, { name: 'dns', version: '1.0.0' }, { 'README.md': 'CoreDNS' })
  const rows = () => sqlite(first).prepare('SELECT rowid, * FROM pack_search').all()
  const indexed = rows()
  await first.close()
  const second = await buildApp(config)
  t.teardown(() => second.close())
  t.same(sqlite(second).prepare('SELECT rowid, * FROM pack_search').all(), indexed)
  t.same(await found(second, 'coredns'), ['dns'])
})

t.test('a README missing from storage is searched as empty; the start-up goes on and says so', async (t) => {
  const root = join(tempDir(t), 'data')
  const config = testConfig(t, { storage: { filesystem: { rootdirectory: root } } })
  const before = await buildApp(config)
  await pushPack(before, { name: 'lost', version: '1.0.0', description: 'Still described' }, { 'README.md': 'A README nobody will read' })
  const digest = sqlite(before).prepare(`SELECT json_extract(files, '$."README.md".digest') FROM pack_versions`).pluck().get() as string
  sqlite(before).exec('DROP TABLE pack_search; DROP TABLE pack_readmes; DROP INDEX pack_versions_addon_type; DROP INDEX pack_versions_group; DELETE FROM schema_migrations WHERE version >= 12')
  sqlite(before).exec(LATER_MIGRATIONS)
  await before.close()
  const hex = digest.slice('sha256:'.length)
  rmSync(join(root, 'blobs', 'sha256', hex.slice(0, 2), hex))

  const logged: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => logged.push(line) })
  const after = await buildApp(config, { logger })
  t.teardown(() => after.close())
  t.same(await found(after, 'described'), ['lost'], 'the pack is indexed without its README')
  t.same(await found(after, 'nobody'), [])
  t.match(logged.join(''), /1 READMEs could not be read from storage for search; run packyard fsck/)
})
