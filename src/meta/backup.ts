// The database side of backup and restore. A snapshot is taken with SQLite's online backup API
// in a single step, so it is one consistent state however many pushes commit meanwhile (a
// stepwise copy would restart on every write from the server's connection). The copy then
// forgets what only made sense in the live registry (leases, deletions in progress, upload
// sessions whose bytes stay behind) and becomes a self-contained file (rollback journal, no WAL
// beside it). Before a restore, a snapshot is read (never written) to say whether it is whole:
// SQLite's integrity check, its schema version, the blobs it refers to. Restore then copies
// such a file into place the same way.
//
// These work on SQLite files only: a registry whose metadata is in PostgreSQL is backed up as a
// logical export (meta/transfer.ts, maintenance/backup.ts), and handing one to snapshotDatabase
// is refused with SnapshotUnsupportedError.

import Sqlite from 'better-sqlite3'
import { BlobMeta } from './blobs.js'
import { type Database, writeTransaction } from './database.js'
import { EVERY_DIGEST, MaintenanceMeta } from './maintenance.js'
import { OciMeta } from './oci.js'
import { SqliteDatabase } from './sqlite.js'

/** Every page in one backup step: one read transaction, one state. */
const ALL_PAGES = 0x7fffffff

export interface Snapshot {
  /** Every blob the snapshot has accepted or refers to. */
  digests: string[]
  schemaVersion: number
}

/** A snapshot asked of a database that is not an SQLite file. */
export class SnapshotUnsupportedError extends Error {
  constructor(readonly location: string) {
    super(`a snapshot copies an SQLite metadata file; the metadata here is in PostgreSQL (${location}), which is backed up as a logical export`)
    this.name = 'SnapshotUnsupportedError'
  }
}

/**
 * Copies the live database to `path` (a new file) as one consistent snapshot, made
 * self-contained. The copy is read through a connection of its own: the server's connection
 * may hold a write transaction open between two statements, whose pages a backup through it
 * would copy before they are committed.
 */
export async function snapshotDatabase(db: Database, path: string): Promise<Snapshot> {
  if (!(db instanceof SqliteDatabase)) throw new SnapshotUnsupportedError(db.location)
  const source = new Sqlite(db.location, { readonly: true, fileMustExist: true })
  try {
    await source.backup(path, { progress: () => ALL_PAGES })
  } finally {
    source.close()
  }
  const snapshot = await SqliteDatabase.open(path)
  try {
    await writeTransaction(snapshot, async () => {
      // Through the tables' owners (database.ts lists them), as every write is.
      await new BlobMeta(snapshot).forgetLeasesAndDeletions()
      await new OciMeta(snapshot).forgetSessions()
    })
    const digests = await new MaintenanceMeta(snapshot).everyDigest()
    const schemaVersion = await snapshot.schemaVersion()
    snapshot.raw.pragma('journal_mode = DELETE')
    return { digests, schemaVersion }
  } finally {
    await snapshot.close()
  }
}

/** What a snapshot file holds, read without writing to it; `problems` empty when it is whole. */
export interface SnapshotInspection {
  /** What SQLite found wrong (not a database, integrity_check's findings), at most a few. */
  problems: string[]
  /** 0 when it has no schema (an empty file is an empty database). */
  schemaVersion: number
  /** Every blob it has accepted or refers to; null when it could not be read. */
  digests: string[] | null
}

/** Lines of integrity_check reported; the rest are counted. */
const INTEGRITY_LINES = 5

export function inspectSnapshot(path: string): SnapshotInspection {
  let snapshot: Sqlite.Database
  try {
    snapshot = new Sqlite(path, { readonly: true, fileMustExist: true })
  } catch (err) {
    return { problems: [`cannot be opened (${(err as Error).message})`], schemaVersion: 0, digests: null }
  }
  try {
    const found = (snapshot.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check)
    if (found.length !== 1 || found[0] !== 'ok') {
      const more = found.length > INTEGRITY_LINES ? [`... ${found.length - INTEGRITY_LINES} more`] : []
      return { problems: [`SQLite's integrity check fails: ${[...found.slice(0, INTEGRITY_LINES), ...more].join('; ')}`], schemaVersion: 0, digests: null }
    }
    const hasSchema = snapshot.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() !== undefined
    if (!hasSchema) return { problems: [], schemaVersion: 0, digests: null }
    const { v } = snapshot.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }
    const digests = (snapshot.prepare(EVERY_DIGEST.sqlite).all() as Array<{ digest: string }>).map((r) => r.digest)
    return { problems: [], schemaVersion: v ?? 0, digests }
  } catch (err) {
    // SQLITE_NOTADB, SQLITE_CORRUPT: a truncated or overwritten file fails here.
    return { problems: [`is not a readable SQLite database (${(err as Error).message})`], schemaVersion: 0, digests: null }
  } finally {
    snapshot.close()
  }
}

/** Copies a snapshot file to `path` (which must not exist), leaving the snapshot untouched. */
export async function restoreDatabase(snapshotPath: string, path: string): Promise<void> {
  const snapshot = new Sqlite(snapshotPath, { readonly: true, fileMustExist: true })
  try {
    await snapshot.backup(path, { progress: () => ALL_PAGES })
  } finally {
    snapshot.close()
  }
}
