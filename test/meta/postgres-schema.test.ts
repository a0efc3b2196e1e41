// The PostgreSQL schema (migrations/postgres/0001-init.sql) against SQLite's at the same version:
// a fresh PostgreSQL database given the file and an SQLite database given every SQLite migration
// in order must have the same tables, the same columns in the same order with matching types and
// nullability, the same unique keys, foreign keys (with their ON DELETE), explicit index names
// and triggers, and text compared by its bytes as SQLite compares it. Each difference the engines force is listed below with its reason; anything
// else that differs fails. Then what the PostgreSQL file adds of its own is tried: the
// append-only event log, the addon-type index expression on any pack.json, and the search table.

import Database from 'better-sqlite3'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from 'pg'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { freshDatabase } from '../postgres.js'
import type { Teardown } from '../system.js'

// A server of its own when run alone: initdb takes seconds on a busy machine.
t.setTimeout(3 * 60_000)

const POSTGRES_SCHEMA = join(PACKAGE_ROOT, 'migrations', 'postgres', '0001-init.sql')

/** The SQLite migrations: migrations/sqlite/ once they live there, migrations/ before. */
function sqliteMigrationFiles(): string[] {
  const sqliteDir = join(PACKAGE_ROOT, 'migrations', 'sqlite')
  const dir = existsSync(sqliteDir) ? sqliteDir : join(PACKAGE_ROOT, 'migrations')
  return readdirSync(dir)
    .filter((f) => /^\d{4}-[a-z0-9-]+\.sql$/.test(f))
    .sort()
    .map((f) => join(dir, f))
}

/** The SQLite schema version the PostgreSQL file is equal to. */
const SQLITE_VERSION = 14

/** The tables FTS5 keeps behind pack_search: SQLite's own storage, no part of the data model. */
const FTS5_SHADOW_TABLES = /^pack_search_(data|idx|content|docsize|config)$/

/** Columns only PostgreSQL has, each with why. */
const POSTGRES_ONLY_COLUMNS: Record<string, string> = {
  // FTS5 has an implicit rowid (= repositories.id); here it is a real column.
  'pack_search.repository_id': "FTS5's rowid made a real column",
  // What PostgreSQL full-text search matches: the tsvector of the five text columns.
  'pack_search.document': 'generated tsvector for full-text search',
}

/** Explicit indexes only PostgreSQL has, each with why. */
const POSTGRES_ONLY_INDEXES: Record<string, string> = {
  pack_search_document: 'the GIN index FTS5 keeps inside its own tables',
}

/** Triggers only PostgreSQL has, each with why. */
const POSTGRES_ONLY_TRIGGERS: Record<string, string> = {
  events_no_truncate: 'TRUNCATE skips row triggers and SQLite has no TRUNCATE to guard',
}

/** Columns whose types differ between the engines beyond the INTEGER/TEXT/BLOB mapping. */
const TYPE_EXCEPTIONS: Record<string, string> = {
  // FTS5 columns have no declared type; their text is TEXT here.
  'pack_search.name': 'text',
  'pack_search.display_name': 'text',
  'pack_search.addon_type': 'text',
  'pack_search.description': 'text',
  'pack_search.readme': 'text',
}

const TYPE_MAP: Record<string, string> = { INTEGER: 'bigint', TEXT: 'text', BLOB: 'bytea' }

interface Column {
  name: string
  type: string
  notNull: boolean
}

interface ForeignKey {
  columns: string
  references: string
  onDelete: string
}

interface Schema {
  tables: string[]
  columns: Record<string, Column[]>
  /** Per table: each unique key (primary key included) as its sorted column list. */
  uniques: Record<string, string[]>
  foreignKeys: Record<string, ForeignKey[]>
  indexes: string[]
  triggers: string[]
}

function sqliteSchema(): Schema {
  const db = new Database(':memory:')
  try {
    const files = sqliteMigrationFiles()
    for (const file of files.slice(0, SQLITE_VERSION)) db.exec(readFileSync(file, 'utf8'))
    const names = (sql: string) => (db.prepare(sql).all() as Array<{ name: string }>).map((r) => r.name)
    const tables = names("SELECT name FROM sqlite_master WHERE type IN ('table') AND name NOT LIKE 'sqlite_%' ORDER BY name").filter(
      (name) => !FTS5_SHADOW_TABLES.test(name),
    )
    const columns: Schema['columns'] = {}
    const uniques: Schema['uniques'] = {}
    const foreignKeys: Schema['foreignKeys'] = {}
    for (const table of tables) {
      const info = db.prepare(`SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`).all(table) as Array<{ name: string; type: string; notnull: number; pk: number }>
      // SQLite lets a non-INTEGER PRIMARY KEY column hold NULL (a bug kept for compatibility) and
      // PostgreSQL never does; the code never writes one, so a key column counts as NOT NULL.
      columns[table] = info.map((c) => ({ name: c.name, type: c.type, notNull: c.notnull === 1 || c.pk > 0 }))
      const keys: string[] = []
      const pk = info.filter((c) => c.pk > 0).map((c) => c.name)
      if (pk.length > 0) keys.push(pk.sort().join(','))
      const indexList = db.prepare('SELECT name, "unique", origin, partial FROM pragma_index_list(?)').all(table) as Array<{ name: string; unique: number; origin: string; partial: number }>
      for (const index of indexList) {
        if (index.unique !== 1 || index.origin === 'pk' || index.partial === 1) continue
        const cols = (db.prepare('SELECT name FROM pragma_index_info(?)').all(index.name) as Array<{ name: string }>).map((r) => r.name)
        keys.push(cols.sort().join(','))
      }
      uniques[table] = keys.sort()
      const fks = db.prepare('SELECT id, seq, "from", "table", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq').all(table) as Array<{
        id: number
        from: string
        table: string
        to: string
        on_delete: string
      }>
      const byId = new Map<number, { from: string[]; to: string[]; table: string; onDelete: string }>()
      for (const fk of fks) {
        const entry = byId.get(fk.id) ?? { from: [], to: [], table: fk.table, onDelete: fk.on_delete }
        entry.from.push(fk.from)
        entry.to.push(fk.to)
        byId.set(fk.id, entry)
      }
      foreignKeys[table] = [...byId.values()]
        .map((fk) => ({ columns: fk.from.join(','), references: `${fk.table}(${fk.to.join(',')})`, onDelete: fk.onDelete }))
        .sort((a, b) => a.columns.localeCompare(b.columns))
    }
    return {
      tables,
      columns,
      uniques,
      foreignKeys,
      // Only the indexes a migration names: SQLite's automatic ones back keys, compared above.
      indexes: names("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"),
      triggers: names("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"),
    }
  } finally {
    db.close()
  }
}

async function postgresSchema(client: Client): Promise<Schema> {
  const rows = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) => (await client.query<T>(sql, params)).rows
  const tables = (await rows<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).map((r) => r.name)
  const columns: Schema['columns'] = {}
  const uniques: Schema['uniques'] = {}
  const foreignKeys: Schema['foreignKeys'] = {}
  for (const table of tables) {
    const info = await rows<{ name: string; type: string; nullable: string }>(
      `SELECT column_name AS name, data_type AS type, is_nullable AS nullable FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
      [table],
    )
    columns[table] = info.map((c) => ({ name: c.name, type: c.type, notNull: c.nullable === 'NO' }))
    // Every unique index, constraint-backed or not, except partial ones (as for SQLite).
    const keys = await rows<{ cols: string }>(
      `SELECT (SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k) AS cols
       FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL`,
      [table],
    )
    uniques[table] = keys.map((k) => k.cols).sort()
    const fks = await rows<{ columns: string; references: string; on_delete: string }>(
      `SELECT (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(num, n) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num) AS columns,
              c.confrelid::regclass::text || '(' ||
              (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(num, n) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num) || ')' AS references,
              CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END AS on_delete
       FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype = 'f'`,
      [table],
    )
    foreignKeys[table] = fks.map((fk) => ({ columns: fk.columns, references: fk.references, onDelete: fk.on_delete })).sort((a, b) => a.columns.localeCompare(b.columns))
  }
  // Only the indexes the file names: those backing PRIMARY KEY and UNIQUE constraints are keys.
  const indexes = await rows<{ name: string }>(
    `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY c.relname`,
  )
  const triggers = await rows<{ name: string }>(
    `SELECT t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND NOT t.tgisinternal ORDER BY t.tgname`,
  )
  return { tables, columns, uniques, foreignKeys, indexes: indexes.map((r) => r.name), triggers: triggers.map((r) => r.name) }
}

async function connect(t: Teardown): Promise<Client> {
  const client = new Client({ connectionString: await freshDatabase(t) })
  await client.connect()
  t.teardown(() => client.end())
  await client.query(readFileSync(POSTGRES_SCHEMA, 'utf8'))
  return client
}

t.test('the PostgreSQL schema equals SQLite at version 14', async (t) => {
  t.ok(sqliteMigrationFiles().length >= SQLITE_VERSION, `the ${SQLITE_VERSION} SQLite migrations are there`)
  const client = await connect(t)
  const sqlite = sqliteSchema()
  const postgres = await postgresSchema(client)

  t.same(postgres.tables, sqlite.tables, 'the same tables')
  for (const table of sqlite.tables) {
    const pgColumns = (postgres.columns[table] ?? []).filter((c) => POSTGRES_ONLY_COLUMNS[`${table}.${c.name}`] === undefined)
    const sqliteColumns = sqlite.columns[table] ?? []
    t.same(
      pgColumns.map((c) => c.name),
      sqliteColumns.map((c) => c.name),
      `${table}: the same columns in the same order`,
    )
    t.same(
      pgColumns.map((c) => `${c.name} ${c.notNull ? 'NOT NULL' : 'NULL'}`),
      sqliteColumns.map((c) => `${c.name} ${c.notNull ? 'NOT NULL' : 'NULL'}`),
      `${table}: the same nullability`,
    )
    t.same(
      pgColumns.map((c) => `${c.name} ${c.type}`),
      sqliteColumns.map((c) => `${c.name} ${TYPE_EXCEPTIONS[`${table}.${c.name}`] ?? TYPE_MAP[c.type] ?? `unmapped ${c.type}`}`),
      `${table}: INTEGER is bigint, TEXT text, BLOB bytea`,
    )
    // pack_search's key is FTS5's implicit rowid (see POSTGRES_ONLY_COLUMNS).
    const expectedUniques = table === 'pack_search' ? ['repository_id'] : sqlite.uniques[table]
    t.same(postgres.uniques[table], expectedUniques, `${table}: the same primary and unique keys`)
    t.same(postgres.foreignKeys[table], sqlite.foreignKeys[table], `${table}: the same foreign keys and ON DELETE`)
  }
  t.same(
    postgres.indexes.filter((name) => POSTGRES_ONLY_INDEXES[name] === undefined),
    sqlite.indexes,
    'the same index names',
  )
  t.same(
    postgres.triggers.filter((name) => POSTGRES_ONLY_TRIGGERS[name] === undefined),
    sqlite.triggers,
    'the same triggers',
  )
  for (const [column, reason] of Object.entries(POSTGRES_ONLY_COLUMNS)) {
    const [table, name] = column.split('.') as [string, string]
    t.ok(postgres.columns[table]?.some((c) => c.name === name), `PostgreSQL-only column ${column} exists (${reason})`)
  }
  for (const [index, reason] of Object.entries(POSTGRES_ONLY_INDEXES)) t.ok(postgres.indexes.includes(index), `PostgreSQL-only index ${index} exists (${reason})`)

  // SQLite compares text by its bytes; so must every text column here, whatever the database's default.
  const notC = await client.query<{ col: string }>(
    `SELECT table_name || '.' || column_name AS col FROM information_schema.columns
     WHERE table_schema = 'public' AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C' ORDER BY 1`,
  )
  t.same(notC.rows, [], 'every text column compares in byte order (COLLATE "C")')

  // The rows a fresh SQLite database starts with that only matter for upgrading existing data.
  const pending = (await client.query<{ name: string }>('SELECT name FROM pending_tasks')).rows
  t.same(pending, [], 'no pending upgrade work on a fresh PostgreSQL database')
})

t.test('what the PostgreSQL schema adds of its own works', async (t) => {
  const client = await connect(t)
  const one = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) => (await client.query<T>(sql, params)).rows[0] as T

  // The event log refuses UPDATE, DELETE and TRUNCATE, with SQLite's message.
  await client.query("INSERT INTO events (at, actor, action, repository) VALUES (1, 'alice', 'push', 'dns')")
  await t.rejects(client.query("UPDATE events SET actor = 'mallory'"), /the event log is append-only/)
  await t.rejects(client.query('DELETE FROM events'), /the event log is append-only/)
  await t.rejects(client.query('TRUNCATE events'), /the event log is append-only/)

  // The addon-type expression is SQLite's text; invalid or too deep pack.json reads NULL, never fails the insert.
  await client.query("INSERT INTO repositories (kind, name, created_at, updated_at) VALUES ('pack', 'dns', 1, 1)")
  await client.query("INSERT INTO blobs (digest, size, created_at) VALUES ('sha256:a', 1, 1)")
  const packJsons = ['{"addonType":"networking"}', '{not json', `{"extra":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, '{"README.md":1}']
  for (const [i, packJson] of packJsons.entries()) {
    const { id } = await one<{ id: string }>(
      "INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) SELECT id, $1, 'm', 1, '\\x00', 1 FROM repositories RETURNING id",
      [`sha256:m${i}`],
    )
    await client.query(
      `INSERT INTO pack_versions (manifest_id, repository_id, version, display_name, layer, pack_json, archive_digest, archive_size, content_digest, unpacked_size, files, pushed_at, pushed_by)
       VALUES ($1, 1, $2, 'DNS', 'base', $3, 'sha256:a', 1, 'sha256:c', 1, '{}', 1, 'alice')`,
      [id, `1.0.${i}`, packJson],
    )
  }
  const addonTypes = await client.query<{ version: string; addon_type: string | null }>(
    "SELECT version, CASE WHEN json_valid(pack_json) THEN json_extract(pack_json, '$.addonType') END AS addon_type FROM pack_versions ORDER BY version",
  )
  t.same(
    addonTypes.rows.map((r) => r.addon_type),
    ['networking', null, null, null],
    'the addon type of valid pack.json, NULL for the rest',
  )
  t.equal((await one<{ v: string }>(`SELECT json_extract('{"README.md":{"digest":"sha256:r","size":7}}', '$."README.md".size') AS v`)).v, '7', 'quoted path keys')
  await t.rejects(client.query("SELECT json_extract('{}', '$.a[0]')"), /unsupported path/, 'paths it does not read are refused, not misread')
  await client.query('SET enable_seqscan = off')
  const plan = (await client.query<{ 'QUERY PLAN': string }>(
    "EXPLAIN SELECT DISTINCT CASE WHEN json_valid(pack_json) THEN json_extract(pack_json, '$.addonType') END FROM pack_versions WHERE CASE WHEN json_valid(pack_json) THEN json_extract(pack_json, '$.addonType') END IS NOT NULL",
  )).rows.map((r) => r['QUERY PLAN']).join('\n')
  t.match(plan, /pack_versions_addon_type/, 'the browser expression is read from the index')
  await client.query('RESET enable_seqscan')

  // The search table: every word a prefix, all required.
  await client.query("INSERT INTO pack_search (repository_id, name, display_name, addon_type, description, readme) VALUES (1, 'dns', 'Cluster DNS', 'networking', 'Resolves service names', 'CoreDNS caches them')")
  await client.query("INSERT INTO pack_search (repository_id, name, display_name, addon_type, description, readme) VALUES (2, 'metrics', 'Metrics', 'monitoring', NULL, NULL)")
  const search = async (query: string) => (await client.query<{ repository_id: string }>("SELECT repository_id FROM pack_search WHERE document @@ to_tsquery('simple', $1) ORDER BY repository_id", [query])).rows.map((r) => Number(r.repository_id))
  t.same(await search('clus:* & reso:*'), [1], 'prefixes of words of several columns')
  t.same(await search('coredns:*'), [1], 'the README is searched')
  t.same(await search('monit:*'), [2])
  t.same(await search('clus:* & monit:*'), [], 'every word is required')
})
