// The database side of backup and restore. A snapshot is taken with SQLite's online backup API
// in a single step, so it is one consistent state however many pushes commit meanwhile (a
// stepwise copy would restart on every write from the server's connection). The copy then
// forgets what only made sense in the live registry (leases, deletions in progress, upload
// sessions whose bytes stay behind) and becomes a self-contained file (rollback journal, no WAL
// beside it). Before a restore, a snapshot is read (never written) to say whether it is whole:
// SQLite's integrity check, its schema version, the blobs it refers to. Restore then copies
// such a file into place the same way.

import Database from 'better-sqlite3'
import { type Db, openDatabase, schemaVersion } from './db.js'
import { MaintenanceMeta } from './maintenance.js'

/** Every page in one backup step: one read transaction, one state. */
const ALL_PAGES = 0x7fffffff

export interface Snapshot {
  /** Every blob the snapshot has accepted or refers to. */
  digests: string[]
  schemaVersion: number
}

/** Copies the live database to `path` (a new file) as one consistent snapshot, made self-contained. */
export async function snapshotDatabase(db: Db, path: string): Promise<Snapshot> {
  await db.backup(path, { progress: () => ALL_PAGES })
  const snapshot = openDatabase(path)
  try {
    snapshot.transaction(() => {
      snapshot.exec('DELETE FROM blob_leases; DELETE FROM blob_deletions; DELETE FROM upload_sessions;')
    }).immediate()
    snapshot.pragma('journal_mode = DELETE')
    return { digests: new MaintenanceMeta(snapshot).everyDigest(), schemaVersion: schemaVersion(snapshot) }
  } finally {
    snapshot.close()
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
  let snapshot: Database.Database
  try {
    snapshot = new Database(path, { readonly: true, fileMustExist: true })
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
    return { problems: [], schemaVersion: v ?? 0, digests: new MaintenanceMeta(snapshot).everyDigest() }
  } catch (err) {
    // SQLITE_NOTADB, SQLITE_CORRUPT: a truncated or overwritten file fails here.
    return { problems: [`is not a readable SQLite database (${(err as Error).message})`], schemaVersion: 0, digests: null }
  } finally {
    snapshot.close()
  }
}

/** Copies a snapshot file to `path` (which must not exist), leaving the snapshot untouched. */
export async function restoreDatabase(snapshotPath: string, path: string): Promise<void> {
  const snapshot = new Database(snapshotPath, { readonly: true, fileMustExist: true })
  try {
    await snapshot.backup(path, { progress: () => ALL_PAGES })
  } finally {
    snapshot.close()
  }
}
