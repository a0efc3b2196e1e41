// The numbered schema migrations, one folder per engine (migrations/sqlite/, migrations/postgres/),
// and the one rule both engines apply them by: every migration after the recorded version, each
// in its own transaction with its version recorded inside it (a crash mid-migration leaves the
// previous version); a database written by a newer Packyard is refused. Files are never edited
// once released: a change is a new number.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../paths.js'
import { type Dialect, SchemaTooNewError } from './database.js'

export interface Migration {
  version: number
  name: string
  sql: string
}

export function migrationsDirectory(dialect: Dialect): string {
  return join(PACKAGE_ROOT, 'migrations', dialect)
}

export function readMigrations(dialect: Dialect = 'sqlite', dir: string = migrationsDirectory(dialect)): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => /^\d{4}-[a-z0-9-]+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version)
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 0001, 0002, ... without gaps; found ${m.name}`)
  })
  return migrations
}

/** What an engine lends the migration rule: its recorded version, and one migration applied atomically. */
export interface MigrationTarget<Session> {
  version(session: Session): Promise<number>
  apply(session: Session, migration: Migration): Promise<void>
}

/** Brings the schema up to date; the caller holds whatever lock keeps other processes out. */
export async function applyMigrations<Session>(session: Session, target: MigrationTarget<Session>, migrations: Migration[]): Promise<void> {
  const current = await target.version(session)
  if (current > migrations.length) throw new SchemaTooNewError(current, migrations.length)
  for (const m of migrations.slice(current)) await target.apply(session, m)
}
