// Opens the metadata database the configuration names: the embedded SQLite file by default, or
// PostgreSQL when database.url is set (its driver is loaded only then). Either way the schema is
// brought up to date before the database is returned, and one newer than the code is refused.

import type { Config } from '../config/load.js'
import type { Database } from './database.js'
import { SqliteDatabase } from './sqlite.js'

export type { Database } from './database.js'

/** Where the metadata lives: config.database. */
export type DatabaseSettings = Config['database']

export async function openDatabase(settings: DatabaseSettings): Promise<Database> {
  if (settings.kind === 'sqlite') return SqliteDatabase.open(settings.path)
  const [{ PostgresDatabase }, { postgresPoolSettings, databaseHost }] = await Promise.all([import('./postgres.js'), import('./postgres-connection.js')])
  return PostgresDatabase.open(postgresPoolSettings(settings), databaseHost(settings.url))
}
