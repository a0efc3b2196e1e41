// The metadata transfer between engines (src/meta/transfer.ts): a SQLite registry copied into
// an empty PostgreSQL database holds the same rows, bytes for bytes; the copy is verified, an
// occupied target is refused, identities continue past the copied ones, a truncated export
// loads nothing, and PostgreSQL exported and loaded into another PostgreSQL database (the
// logical backup and restore) comes back the same. The table list is checked against both
// schemas, so a new column cannot be left behind silently.

import t from 'tap'
import { join } from 'node:path'
import { type Database, writeTransaction } from '../../src/meta/database.js'
import { openDatabase } from '../../src/meta/db.js'
import { SqliteDatabase } from '../../src/meta/sqlite.js'
import { copyMetadata, exportMetadata, firstNonEmptyTable, importMetadata, TABLES, TRANSFER_SCHEMAS, verifyCopy } from '../../src/meta/transfer.js'
import { freshDatabase } from '../postgres.js'
import { tempDir, type Teardown } from '../system.js'
import { BINARY_CONTENT, fillRegistry } from './transfer-rows.js'

async function sqlite(t: Teardown): Promise<Database> {
  const db = await SqliteDatabase.open(join(tempDir(t), 'registry.db'))
  t.teardown(() => db.close())
  return db
}

async function postgres(t: Teardown): Promise<Database> {
  const url = await freshDatabase(t)
  const db = await openDatabase({ kind: 'postgres', url, pool: 4, connectTimeoutMs: 10_000, tls: { ca: null, cert: null, key: null } })
  t.teardown(() => db.close())
  return db
}

async function exported(db: Database): Promise<string[]> {
  const lines: string[] = []
  await exportMetadata(db, async (line) => void lines.push(line))
  return lines
}

async function* linesOf(lines: string[]): AsyncGenerator<string> {
  yield* lines
}

t.test('the table list is every table and column of both schemas', async (t) => {
  const listed = Object.fromEntries(TABLES.map((table) => [table.name, [...table.columns].sort()]))
  const lite = await sqlite(t)
  const tables = await lite.prepare<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'pack_search%' AND name <> 'schema_migrations' ORDER BY name").all()
  const found: Record<string, string[]> = {}
  for (const { name } of tables) found[name] = (await lite.prepare<{ name: string }>(`SELECT name FROM pragma_table_info('${name}')`).all()).map((c) => c.name).sort()
  t.same(found, Object.fromEntries(Object.keys(listed).sort().map((k) => [k, listed[k]])), 'SQLite')
  const pg = await postgres(t)
  const columns = await pg
    .prepare<{ table_name: string; column_name: string }>("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT IN ('schema_migrations', 'pack_search') ORDER BY table_name, column_name")
    .all()
  const pgFound: Record<string, string[]> = {}
  for (const c of columns) (pgFound[c.table_name] ??= []).push(c.column_name)
  t.same(pgFound, Object.fromEntries(Object.keys(listed).sort().map((k) => [k, listed[k]])), 'PostgreSQL (pack_search, rebuilt by the server, is not copied)')
})

t.test('SQLite copied into PostgreSQL: the same rows, verified; sequences continue; an occupied target is refused', async (t) => {
  const from = await sqlite(t)
  await fillRegistry(from)
  const to = await postgres(t)

  const counts = await copyMetadata(from, to)
  t.equal(counts.tags, 6)
  t.equal(counts.pending_tasks, 1, "the SQLite migration's pending task travels with the data")
  t.equal(counts.notification_outbox, 2)
  const { differences, counts: both } = await verifyCopy(from, to)
  t.same(differences, [], 'verified')
  t.same(both.from, both.to)

  const source = await exported(from)
  const copy = await exported(to)
  t.same(copy.slice(1), source.slice(1), 'every value of every table is the same on both engines')
  t.same(JSON.parse(copy[0] as string).source, { dialect: 'postgres', schema: TRANSFER_SCHEMAS.postgres })

  const manifest = await to.prepare<{ content: Buffer }>('SELECT content FROM manifests WHERE id = 1').get()
  t.ok(manifest !== undefined && Buffer.isBuffer(manifest.content) && manifest.content.equals(BINARY_CONTENT), 'manifest bytes are identical')
  const search = await to.prepare<{ n: number }>('SELECT COUNT(*) AS n FROM pack_search').get()
  t.equal(search?.n, 0, "search rows are not copied: the server builds them at its start, in its engine's words")

  await t.rejects(copyMetadata(from, to), { name: 'TransferError', problem: 'not-empty', message: /table repositories has rows/ }, 'a second copy is refused')
  t.same(await verifyCopy(from, to).then((v) => v.differences), [], 'and changed nothing')

  const repo = await to.prepare<{ id: number }>("INSERT INTO repositories (kind, name, created_at, updated_at) VALUES ('oci', 'new', 1, 1) RETURNING id").get()
  t.equal(repo?.id, 3, 'a new repository takes the next id')
  const event = await to.prepare<{ id: number }>("INSERT INTO events (at, actor, action, repository) VALUES (1, 'a', 'push', 'new') RETURNING id").get()
  t.equal(event?.id, 6)
  const outbox = await to.prepare<{ seq: number }>("INSERT INTO notification_outbox (at, action, media_type, event) VALUES (1, 'push', 'x', '{}') RETURNING seq").get()
  t.equal(outbox?.seq, 4, 'the outbox continues past the number SQLite handed out and deleted, never reusing it')
  const tag = await to.prepare<{ id: number }>("INSERT INTO tags (repository_id, name, label, kind, manifest_id, seq, updated_at) VALUES (3, 'x', 'x', 'alias', 2, 7, 1) RETURNING id").get()
  t.equal(tag?.id, 8)
  const manifestId = await to.prepare<{ id: number }>("INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) VALUES (3, 'sha256:n', 'x', 0, ?, 1) RETURNING id").get(Buffer.alloc(0))
  t.equal(manifestId?.id, 4)

  const after = await verifyCopy(from, to)
  t.same(after.differences.map((d) => d.table).sort(), ['events', 'manifests', 'notification_outbox', 'repositories', 'tags', 'tags'], 'verify reports the rows added since')
  t.match(after.differences.find((d) => d.table === 'tags' && /only/.test(d.what))?.what, 'oci new:x is in the target only')
})

t.test('verify names a tag that points elsewhere', async (t) => {
  const from = await sqlite(t)
  await fillRegistry(from)
  const to = await postgres(t)
  await copyMetadata(from, to)
  await to.prepare("UPDATE tags SET manifest_id = 3 WHERE name = 'latest'").run()
  const { differences } = await verifyCopy(from, to)
  t.same(differences, [{ table: 'tags', what: 'oci library/busybox:latest points at sha256:m2 in the source, sha256:m3 in the target' }])
})

t.test('a truncated or foreign export loads nothing', async (t) => {
  const from = await sqlite(t)
  await fillRegistry(from)
  const lines = await exported(from)
  const to = await postgres(t)
  await t.rejects(importMetadata(to, linesOf(lines.slice(0, -1))), { name: 'TransferError', problem: 'format', message: /truncated/ })
  t.equal(await firstNonEmptyTable(to), null, 'the target stays empty')
  await t.rejects(importMetadata(to, linesOf([JSON.stringify({ format: 'other', version: 1 })])), { name: 'TransferError', problem: 'format' })
  const header = JSON.parse(lines[0] as string)
  await t.rejects(importMetadata(to, linesOf([JSON.stringify({ ...header, source: { dialect: 'sqlite', schema: TRANSFER_SCHEMAS.sqlite + 1 } }), ...lines.slice(1)])), { name: 'TransferError', problem: 'schema' })
  const end = JSON.parse(lines[lines.length - 1] as string)
  const lying = [...lines.slice(0, -1), JSON.stringify({ ...end, rows: { ...end.rows, events: 4 } })]
  await t.rejects(importMetadata(to, linesOf(lying)), { problem: 'format', message: /table events: the export announces 4 rows but holds 3/ })
  t.equal(await firstNonEmptyTable(to), null)
  t.same(await importMetadata(to, linesOf(lines)).then((c) => c.events), 3, 'the whole export then loads')
})

t.test('PostgreSQL exported and loaded into another PostgreSQL database comes back the same', async (t) => {
  const lite = await sqlite(t)
  await fillRegistry(lite)
  const first = await postgres(t)
  await copyMetadata(lite, first)
  await first.prepare("INSERT INTO notification_outbox (at, action, media_type, event) VALUES (1, 'push', 'x', '{}')").run()
  const lines = await exported(first)
  t.same(JSON.parse(lines[0] as string).sequences, { repositories: 2, manifests: 3, tags: 7, events: 5, notification_outbox: 4 }, 'the header carries each sequence')
  const second = await postgres(t)
  await importMetadata(second, linesOf(lines))
  t.same(await exported(second), lines, 'every row, and every sequence, the same')
  t.same((await verifyCopy(first, second)).differences, [])
  const outbox = await second.prepare<{ seq: number }>("INSERT INTO notification_outbox (at, action, media_type, event) VALUES (1, 'push', 'x', '{}') RETURNING seq").get()
  t.equal(outbox?.seq, 5)
})

t.test('PostgreSQL copied back into SQLite keeps the outbox sequence', async (t) => {
  const lite = await sqlite(t)
  await fillRegistry(lite)
  const pg = await postgres(t)
  await copyMetadata(lite, pg)
  const back = await sqlite(t)
  // A fresh SQLite database carries the tag-lines task of its migrations: empty it to load.
  await back.prepare('DELETE FROM pending_tasks').run()
  await copyMetadata(pg, back)
  t.same((await exported(back)).slice(1), (await exported(lite)).slice(1))
  const outbox = await back.prepare<{ seq: number }>("INSERT INTO notification_outbox (at, action, media_type, event) VALUES (1, 'push', 'x', '{}') RETURNING seq").get()
  t.equal(outbox?.seq, 4)
})

t.test('tables larger than a page are read in pages by key, composite keys included', async (t) => {
  const from = await sqlite(t)
  await fillRegistry(from)
  const n = 2345
  await writeTransaction(from, async () => {
    for (let i = 0; i < n; i++) {
      const digest = `sha256:${String(i).padStart(6, '0')}`
      await from.prepare('INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)').run(digest, i, i)
      // Two rows per digest under one repository key prefix: the keyset must page on both columns.
      await from.prepare('INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)').run(1 + (i % 2), digest, i)
      await from.prepare("INSERT INTO events (at, actor, action, repository) VALUES (?, 'a', 'push', 'hello')").run(i)
    }
  })
  const to = await postgres(t)
  const counts = await copyMetadata(from, to)
  t.equal(counts.blobs, n + 3)
  t.equal(counts.repository_blobs, n + 3)
  t.equal(counts.events, n + 3)
  t.same((await verifyCopy(from, to)).differences, [])
  t.same((await exported(to)).slice(1), (await exported(from)).slice(1))
})
