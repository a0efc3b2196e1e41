// The database side of backup and restore. A snapshot is taken with SQLite's online backup API
// in a single step, so it is one consistent state however many pushes commit meanwhile (a
// stepwise copy would restart on every write from the server's connection). The copy then
// forgets what only made sense in the live registry (leases, deletions in progress, upload
// sessions whose bytes stay behind) and becomes a self-contained file (rollback journal, no WAL
// beside it). Restore copies such a file into place the same way.

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

/** Copies a snapshot file to `path` (which must not exist), leaving the snapshot untouched. */
export async function restoreDatabase(snapshotPath: string, path: string): Promise<void> {
  const snapshot = new Database(snapshotPath, { readonly: true, fileMustExist: true })
  try {
    await snapshot.backup(path, { progress: () => ALL_PAGES })
  } finally {
    snapshot.close()
  }
}
