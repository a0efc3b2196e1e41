// packyard migrate-metadata --from sqlite:PATH --to postgres://...: moves a registry's metadata
// from its SQLite file into an empty PostgreSQL database, then checks the copy (row counts of
// every table, and every tag's manifest digest) before saying "verified". The server must be
// stopped: the copy reads one snapshot, and a push after it would be missing from PostgreSQL.
// The database lock the server holds while it runs is taken here for the whole copy, so a
// running server is refused and none can start meanwhile. The URL is only ever shown without
// its password.

import { existsSync } from 'node:fs'
import { checkDatabaseUrl, redactDatabaseUrl } from '../../config/database.js'
import { ConfigError } from '../../config/leaf.js'
import type { Database } from '../../meta/database.js'
import { openDatabase } from '../../meta/db.js'
import { SqliteDatabase } from '../../meta/sqlite.js'
import { copyMetadata, TABLES, TRANSFER_SCHEMAS, TransferError, verifyCopy } from '../../meta/transfer.js'
import { InUseError, lockDatabase } from '../../store/root-lock.js'
import { CliError, type Command, parseCommandArgs, UsageError } from '../command.js'

/** The environment variable the server reads database.url from, used when --to is not given. */
const URL_VARIABLE = 'REGISTRY_DATABASE_URL'
/** Connections the copy holds: one for the import transaction, one spare for checks. */
const POOL = 2
const CONNECT_TIMEOUT_MS = 10_000

export const migrateMetadataCommand: Command = {
  usage: `Usage: packyard migrate-metadata --from sqlite:PATH [--to postgres://USER:PASSWORD@HOST:PORT/DATABASE]

Moves a registry's metadata from its SQLite database (PATH: database.path, by default
<storage root>/registry.db) into PostgreSQL, then verifies the copy: the rows of every
table, and every tag's manifest digest, on both sides. The PostgreSQL database must be
empty (a new database; its schema is created here). The blobs stay where they are.

Stop the server first: the copy is one consistent snapshot of the SQLite file, and a
push made after it would be missing from PostgreSQL. A server that still holds the
database is refused, and its lock is held during the copy so none starts meanwhile.
The SQLite file is brought up to the latest schema first, as the server would at
start-up; otherwise it is only read.

--to defaults to $${URL_VARIABLE}. Afterwards set database.url (or $${URL_VARIABLE})
to the same URL and start the server. Exits non-zero when anything differs.`,
  async run(args, io) {
    const { values } = parseCommandArgs(args, { from: { type: 'string' }, to: { type: 'string' } }, { min: 0, max: 0 })
    if (values.from === undefined) throw new UsageError('--from sqlite:PATH is required')
    if (!values.from.startsWith('sqlite:') || values.from.length === 'sqlite:'.length) throw new UsageError(`--from must be sqlite:PATH, the SQLite database file (got ${JSON.stringify(values.from)})`)
    const path = values.from.slice('sqlite:'.length)
    const url = values.to ?? io.env[URL_VARIABLE]
    if (url === undefined || url.trim() === '') throw new UsageError(`--to postgres://... is required (or set ${URL_VARIABLE})`)
    try {
      checkDatabaseUrl(url, '--to')
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(`--to ${err.reason}`)
      throw err
    }
    if (!existsSync(path)) throw new CliError(`${path} does not exist: --from names the registry's SQLite database (database.path, by default <storage root>/registry.db)`)

    let lock
    try {
      lock = await lockDatabase(path, { purpose: 'migrate-metadata' })
    } catch (err) {
      if (err instanceof InUseError) throw new CliError(`${err.message}. The server must be stopped while its metadata is copied`)
      throw err
    }
    let source: Database | null = null
    let target: Database | null = null
    try {
      io.stdout.write(`Source: ${path} (SQLite, brought up to schema version ${TRANSFER_SCHEMAS.sqlite} first if older)\n`)
      source = await SqliteDatabase.open(path)
      io.stdout.write(`Target: ${redactDatabaseUrl(url)} (PostgreSQL)\n`)
      target = await openDatabase({ kind: 'postgres', url, pool: POOL, connectTimeoutMs: CONNECT_TIMEOUT_MS, tls: { ca: null, cert: null, key: null } })
      let copied
      try {
        copied = await copyMetadata(source, target)
      } catch (err) {
        if (err instanceof TransferError) throw new CliError(err.problem === 'not-empty' ? `${err.message}. Give migrate-metadata a new, empty database` : err.message)
        throw err
      }
      const { differences, more, counts } = await verifyCopy(source, target)
      io.stdout.write(countsTable(copied, counts.to))
      if (differences.length > 0) {
        for (const d of differences) io.stdout.write(`differs: ${d.table}: ${d.what}\n`)
        if (more > 0) io.stdout.write(`differs: ... and ${more} more\n`)
        throw new CliError(`the copy in PostgreSQL differs from the SQLite source (listed above); do not switch the server to it`)
      }
      io.stdout.write(`verified: every table's rows and every tag's digest are the same in PostgreSQL\n`)
      io.stdout.write(`Now set database.url (or ${URL_VARIABLE}) to ${redactDatabaseUrl(url)} and start the server.\n`)
    } finally {
      await target?.close()
      await source?.close()
      await lock.release()
    }
  },
}

/** One line per table: rows copied, rows found in PostgreSQL. */
function countsTable(copied: Record<string, number>, found: Record<string, number>): string {
  const width = Math.max(...TABLES.map((t) => t.name.length), 'table'.length) + 2
  const lines = [`${'table'.padEnd(width)}${'copied'.padStart(10)}${'in target'.padStart(12)}`]
  for (const t of TABLES) lines.push(`${t.name.padEnd(width)}${String(copied[t.name] ?? 0).padStart(10)}${String(found[t.name] ?? 0).padStart(12)}`)
  return `${lines.join('\n')}\n`
}
